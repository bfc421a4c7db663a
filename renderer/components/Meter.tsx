interface Props {
  /** 0..1, or null when unknown. */
  fraction: number | null;
  label: string;
  text: string;
}

/** A used/total bar (memory, VRAM) with its figure; an unknown value shows an empty bar and a dash. */
export function Meter({ fraction, label, text }: Props) {
  const pct = fraction === null ? 0 : Math.round(Math.min(1, Math.max(0, fraction)) * 100);
  const level = pct >= 90 ? 'high' : pct >= 70 ? 'mid' : 'low';
  return (
    <div className="meter">
      <div
        className="meter-track"
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={fraction === null ? undefined : pct}
        aria-valuetext={text}
      >
        <div className={`meter-fill ${level}`} style={{ width: `${pct}%` }} />
      </div>
      <span className="meter-text">{text}</span>
    </div>
  );
}
