import { memo, useRef } from 'react';
import type { DesignerModel } from '../../../native/api/designerSchemas.js';
import {
  chunkCount,
  moveBoundary,
  moveLayerToStage,
  stageOf,
  type DesignDoc,
} from '../../designer/planModel.js';
import { startDrag } from '../../designer/pointerDrag.js';
import { stageColor } from '../../designer/stageColors.js';
import { formatCount } from '../../designer/units.js';
import { formatBytes } from '../../format.js';
import { edit } from '../../store/designerStore.js';

/** Fixed row height: a drag maps the pointer to a layer gap by arithmetic, never by measuring rows. */
export const ROW_H = 30;

function Boundary({ doc, k }: { doc: DesignDoc; k: number }) {
  const p = doc.machines.length;
  const end = k === p;
  const at = doc.bounds[k]!;
  const preview = useRef<HTMLDivElement>(null);
  const label = end
    ? 'End of the model: drag up (or press ↑) to split off a new stage'
    : `Boundary between stage ${k} and stage ${k + 1}`;
  return (
    <>
      <div
        role="separator"
        aria-orientation="horizontal"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={doc.layerCount}
        aria-valuenow={at}
        tabIndex={0}
        data-testid={end ? 'boundary-end' : `boundary-${k}`}
        className={`boundary${end ? ' boundary-end' : ''}`}
        style={{ top: at * ROW_H - 5, borderColor: stageColor(k - 1) }}
        title={label}
        onKeyDown={(e) => {
          const step = e.key === 'ArrowUp' ? -1 : e.key === 'ArrowDown' ? 1 : 0;
          if (!step) return;
          e.preventDefault();
          edit((d) => moveBoundary(d, k, at + step));
        }}
        onPointerDown={(e) => {
          // Measured once per drag: measuring on every move would force a style recalculation each time.
          const top = preview.current?.parentElement?.getBoundingClientRect().top;
          const gapAt = (y: number) => (top === undefined ? at : Math.round((y - top) / ROW_H));
          startDrag(e, {
            label: end ? 'new stage' : `boundary ${k}`,
            onMove: (_x, y) => {
              const g = Math.max(1, Math.min(doc.layerCount - (end ? 1 : 0), gapAt(y)));
              if (preview.current) {
                preview.current.style.display = 'block';
                preview.current.style.transform = `translateY(${g * ROW_H}px)`;
              }
            },
            onDrop: (_t, _x, y) => {
              if (preview.current) preview.current.style.display = 'none';
              edit((d) => moveBoundary(d, k, gapAt(y)));
            },
            onCancel: () => {
              if (preview.current) preview.current.style.display = 'none';
            },
          });
        }}
      >
        <span className="boundary-grip" aria-hidden="true">
          {end ? '⇡ split' : '⇕'}
        </span>
      </div>
      <div ref={preview} className="boundary-preview" aria-hidden="true" />
    </>
  );
}

/**
 * The model as a column of layers, coloured by stage, with draggable stage boundaries between rows.
 * Interleaved, a stage's layers are its chunks, which the engine splits: the layers take the colour of
 * the stage whose chunk holds them in the last prediction (`layerStages`), and nothing is dragged.
 */
export const LayerColumn = memo(function LayerColumn({
  model,
  doc,
  layerStages,
}: {
  model: DesignerModel;
  doc: DesignDoc;
  /** Each layer's stage as last predicted, for interleaved layouts; null until predicted. */
  layerStages?: number[] | null;
}) {
  const interleaved = chunkCount(doc.settings) > 1;
  const rows = doc.settings.batch / doc.settings.microbatches;
  const totalFlops = model.layers.reduce((a, l) => a + l.flops, 0) || 1;
  return (
    <section className="layer-column" aria-label="Layers">
      <div className="layer-head" aria-hidden="true">
        <span />
        <span>Layer</span>
        <span>Class</span>
        <span>Output</span>
        <span>Params</span>
        <span>FLOPs</span>
        <span title="weights + stashed activations of one micro-batch">Memory</span>
        <span>Compute</span>
      </div>
      <div className="layer-rows" style={{ height: model.layers.length * ROW_H }}>
        <ol className="layer-list">
          {model.layers.map((l, i) => {
            // -1: not predicted yet (an interleaved layer's stage comes from the prediction).
            const k = interleaved ? (layerStages?.[i] ?? -1) : stageOf(doc, i);
            const color = k < 0 ? 'var(--muted)' : stageColor(k);
            const share = l.flops / totalFlops;
            return (
              <li
                key={i}
                className="layer-row"
                style={{ height: ROW_H }}
                data-stage={k}
                aria-label={`Layer ${l.name}${k < 0 ? '' : `, stage ${k + 1}`}`}
                title={
                  interleaved
                    ? 'Interleaved: the chunks are split by cost, not dragged'
                    : 'Drag onto a neighbouring stage to move it there'
                }
                onPointerDown={(e) =>
                  !interleaved &&
                  startDrag(e, {
                    label: l.name,
                    targets: '[data-drop-stage]',
                    onDrop: (t) => {
                      const to = t?.dataset.dropStage;
                      if (to !== undefined) edit((d) => moveLayerToStage(d, i, Number(to)));
                    },
                  })
                }
              >
                <span className="stage-strip" style={{ background: color }} />
                <span className="layer-name">{l.name}</span>
                <span className="muted">{l.className}</span>
                <span className="muted">[{l.outputShape.join('×')}]</span>
                <span>{formatCount(l.params)}</span>
                <span>{formatCount(l.flops)}</span>
                <span>{formatBytes(l.weightBytes + l.stashBytes * rows)}</span>
                <span className="share-bar" title={`${(share * 100).toFixed(1)} % of compute`}>
                  <span style={{ width: `${share * 100}%`, background: color }} />
                </span>
              </li>
            );
          })}
        </ol>
        {!interleaved &&
          doc.bounds.slice(1).map((_, i) => <Boundary key={i + 1} doc={doc} k={i + 1} />)}
      </div>
    </section>
  );
});
