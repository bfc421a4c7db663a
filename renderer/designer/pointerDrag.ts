/**
 * Pointer-based drag and drop with a distance threshold (a click stays a click), so real pointer moves —
 * a person's, or Playwright's stepped `mouse.move` — drive it. While dragging, only the DOM is touched
 * (a ghost label follows the pointer, the hovered target gets a class): React renders nothing until the
 * drop, which keeps every frame of the drag cheap.
 */

export interface DragOptions {
  /** Shown next to the pointer while dragging. */
  label: string;
  /** CSS selector of the elements this drag may drop on. */
  targets?: string;
  /** Called on every move once the drag has started, with the pointer position. */
  onMove?(x: number, y: number): void;
  /** Called once at the end: the target under the pointer (null over nothing), and the position. */
  onDrop(target: HTMLElement | null, x: number, y: number): void;
  onCancel?(): void;
}

const THRESHOLD_PX = 4;

export function startDrag(e: React.PointerEvent, opts: DragOptions): void {
  if (e.button !== 0) return;
  const x0 = e.clientX;
  const y0 = e.clientY;
  let ghost: HTMLDivElement | null = null;
  let hovered: HTMLElement | null = null;

  const targetAt = (x: number, y: number): HTMLElement | null => {
    if (!opts.targets) return null;
    const el = document.elementFromPoint(x, y);
    return (el?.closest(opts.targets) as HTMLElement | null) ?? null;
  };
  const move = (ev: PointerEvent) => {
    if (!ghost) {
      if (Math.hypot(ev.clientX - x0, ev.clientY - y0) < THRESHOLD_PX) return;
      ghost = document.createElement('div');
      ghost.className = 'drag-ghost';
      ghost.textContent = opts.label;
      document.body.appendChild(ghost);
      document.body.classList.add('dragging');
    }
    ghost.style.transform = `translate(${ev.clientX + 12}px, ${ev.clientY + 8}px)`;
    const t = targetAt(ev.clientX, ev.clientY);
    if (t !== hovered) {
      hovered?.classList.remove('drop-hover');
      t?.classList.add('drop-hover');
      hovered = t;
    }
    opts.onMove?.(ev.clientX, ev.clientY);
  };
  const end = (ev: PointerEvent, cancelled: boolean) => {
    window.removeEventListener('pointermove', move);
    window.removeEventListener('pointerup', up);
    window.removeEventListener('pointercancel', cancel);
    window.removeEventListener('keydown', key);
    hovered?.classList.remove('drop-hover');
    document.body.classList.remove('dragging');
    const started = ghost !== null;
    ghost?.remove();
    if (!started) return;
    if (cancelled) opts.onCancel?.();
    else opts.onDrop(targetAt(ev.clientX, ev.clientY), ev.clientX, ev.clientY);
  };
  const up = (ev: PointerEvent) => end(ev, false);
  const cancel = (ev: PointerEvent) => end(ev, true);
  const key = (ev: KeyboardEvent) => {
    if (ev.key === 'Escape') end(new PointerEvent('pointercancel'), true);
  };
  window.addEventListener('pointermove', move);
  window.addEventListener('pointerup', up);
  window.addEventListener('pointercancel', cancel);
  window.addEventListener('keydown', key);
}
