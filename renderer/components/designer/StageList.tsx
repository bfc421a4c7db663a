import { memo, useRef, useState } from 'react';
import type { Prediction } from '../../../native/api/designerSchemas.js';
import type { DesignerMachine } from '../../designer/machines.js';
import {
  addReplica,
  addStage,
  chunkCount,
  placeStage,
  removeReplica,
  removeStage,
  type DesignDoc,
  type Placement,
} from '../../designer/planModel.js';
import { startDrag } from '../../designer/pointerDrag.js';
import { stageColor } from '../../designer/stageColors.js';
import { formatSeconds } from '../../designer/units.js';
import { edit } from '../../store/designerStore.js';

type StagePrediction = Prediction['plan']['prediction']['stages'][number];

/** What a drop of a stage's chip on a machine card does: on its "+ replica" target, add; else move. */
export const STAGE_DROP_TARGETS = '[data-drop-replica], [data-drop-machine]';

/**
 * The keyboard (and click) way to add a replica: a button that opens the machines the stage is not on
 * yet, each a button; Escape closes it. A machine card dragged onto the button adds it as well. Never
 * disabled: a button that disables itself under the focus would drop a keyboard user's place.
 */
function AddReplica({
  k,
  on,
  machines,
}: {
  k: number;
  on: Placement[];
  machines: DesignerMachine[];
}) {
  const [open, setOpen] = useState(false);
  const toggle = useRef<HTMLButtonElement>(null);
  const free = machines.filter((x) => !on.some((m) => m.id === x.id));
  const close = () => {
    setOpen(false);
    toggle.current?.focus();
  };
  return (
    <span className="add-replica" data-drop-replica-stage={k}>
      <button
        ref={toggle}
        type="button"
        className="small"
        aria-expanded={open}
        aria-label={`Add a replica of stage ${k + 1}…`}
        title="Run this stage on one more machine: its replicas share each step's micro-batches and sum their gradients (all-reduce). Or drop the stage on a machine's “+ replica”."
        onClick={() => setOpen((o) => !o)}
      >
        + replica
      </button>
      {open && (
        <span
          role="group"
          aria-label={`Add a replica of stage ${k + 1} on`}
          className="replica-choices"
          onKeyDown={(e) => {
            if (e.key !== 'Escape') return;
            e.stopPropagation();
            close();
          }}
        >
          {free.map((x, i) => (
            <button
              key={x.id}
              type="button"
              className="small"
              autoFocus={i === 0}
              onClick={() => {
                edit((d) => addReplica(d, k, { id: x.id, name: x.name }));
                close();
              }}
            >
              {x.name}
            </button>
          ))}
          {free.length === 0 && <span className="muted">no other machine</span>}
        </span>
      )}
    </span>
  );
}

interface LaneProps {
  k: number;
  start: number;
  end: number;
  machine: Placement | null;
  /** The stage's further replicas (the same array while they do not change, for the memo). */
  replicas: Placement[];
  prediction: StagePrediction | undefined;
  layerNames: string[];
  machines: DesignerMachine[];
  canRemove: boolean;
  /** Interleaved: the stage's chunks as last predicted (null until one is); absent: one chunk. */
  chunks?: { layers: [number, number] }[] | null;
}

/** "dense_1 … dense_4 (4 layers)", or the one layer's name. */
const rangeText = (names: string[], s: number, e: number, count = true) =>
  e - s === 1 ? names[s] : `${names[s]} … ${names[e - 1]}${count ? ` (${e - s} layers)` : ''}`;

/** One stage, memoised on plain values: a drop re-renders only the lanes it changed. */
const StageLane = memo(function StageLane({
  k,
  start: s,
  end: e,
  machine: m,
  replicas,
  prediction: p,
  layerNames,
  machines,
  canRemove,
  chunks,
}: LaneProps) {
  const byId = (id: string | undefined) => machines.find((x) => x.id === id);
  const missing = m && !byId(m.id);
  const on = m ? [m, ...replicas] : [];
  const layersText =
    chunks === undefined
      ? rangeText(layerNames, s, e)
      : chunks === null
        ? 'chunks split when predicted'
        : `${chunks.map((c) => rangeText(layerNames, c.layers[0], c.layers[1], false)).join(' · ')} ` +
          `(${chunks.length} chunks, ${chunks.reduce((a, c) => a + c.layers[1] - c.layers[0], 0)} layers)`;
  return (
    <li
      className="stage-lane"
      role="group"
      aria-label={`Stage ${k + 1}`}
      data-drop-stage={k}
      style={{ borderLeftColor: stageColor(k) }}
    >
      <div className="stage-title">
        <button
          type="button"
          className="drag-chip"
          style={{ background: stageColor(k) }}
          aria-label={`Drag stage ${k + 1} onto a machine`}
          onPointerDown={(ev) =>
            startDrag(ev, {
              label: `Stage ${k + 1}`,
              targets: STAGE_DROP_TARGETS,
              onDrop: (t) => {
                const replica = byId(t?.dataset.dropReplica);
                const target = replica ?? byId(t?.dataset.dropMachine);
                if (!target) return;
                const place = { id: target.id, name: target.name };
                edit((d) => (replica ? addReplica(d, k, place) : placeStage(d, k, place)));
              },
            })
          }
        >
          Stage {k + 1}
        </button>
        <span className="muted" data-testid={`stage-${k + 1}-layers`} title={layersText}>
          {layersText}
        </span>
        {on.length > 1 && (
          <span className="replica-count" data-testid={`stage-${k + 1}-replicas`}>
            × {on.length} replicas
          </span>
        )}
        <button
          type="button"
          className="icon-button"
          aria-label={`Remove stage ${k + 1}`}
          title="Merge this stage into its neighbour"
          disabled={!canRemove}
          onClick={() => edit((d) => removeStage(d, k))}
        >
          ×
        </button>
      </div>
      <label className="stage-machine">
        <span>Machine</span>
        <select
          aria-label={`Machine for stage ${k + 1}`}
          value={m?.id ?? ''}
          onChange={(ev) => {
            const target = byId(ev.target.value);
            edit((d) => placeStage(d, k, target ? { id: target.id, name: target.name } : null));
          }}
        >
          <option value="">— none —</option>
          {missing && <option value={m.id}>{m.name} (missing)</option>}
          {machines.map((x) => (
            <option key={x.id} value={x.id}>
              {x.name}
            </option>
          ))}
        </select>
      </label>
      {m && (
        <div className="stage-replicas">
          <span className="stage-replicas-label">Also on</span>
          {replicas.map((r, i) => (
            <span
              key={r.id}
              className="replica-chip"
              style={{ borderColor: stageColor(k) }}
              data-testid={`stage-${k + 1}-replica`}
            >
              {r.name}
              {byId(r.id) ? '' : ' (missing)'}
              <button
                type="button"
                className="icon-button"
                aria-label={`Remove the replica of stage ${k + 1} on ${r.name}`}
                title="Stop running this stage on this machine too"
                // Replica 0 is the Machine list's; the chips are replicas 1…
                onClick={() => edit((d) => removeReplica(d, k, i + 1))}
              >
                ×
              </button>
            </span>
          ))}
          <AddReplica k={k} on={on} machines={machines} />
        </div>
      )}
      {p && (
        <dl className="stage-times" data-testid={`stage-${k + 1}-times`}>
          <dt>forward</dt>
          <dd>{formatSeconds(p.forwardSeconds)}</dd>
          <dt>backward</dt>
          <dd>{formatSeconds(p.backwardSeconds)}</dd>
          <dt>comm</dt>
          <dd>{formatSeconds(p.sendActivationSeconds + p.sendGradientSeconds)}</dd>
          {p.allReduceSeconds !== undefined && (
            <>
              <dt>all-reduce</dt>
              <dd data-testid={`stage-${k + 1}-allreduce`}>{formatSeconds(p.allReduceSeconds)}</dd>
            </>
          )}
        </dl>
      )}
    </li>
  );
});

interface Props {
  doc: DesignDoc;
  layerNames: string[];
  machines: DesignerMachine[];
  prediction: Prediction | null;
}

const NO_REPLICAS: Placement[] = [];

/** One lane per stage: its layers, its machines (select, drop, + replica), and its predicted times. */
export const StageList = memo(function StageList({ doc, layerNames, machines, prediction }: Props) {
  const v = chunkCount(doc.settings);
  // Chunks from the last prediction, while it has this many stages and chunks.
  const predicted = prediction?.plan.stages;
  const chunksOf = (k: number) =>
    v === 1
      ? undefined
      : predicted?.length === doc.machines.length && predicted[k]!.chunks.length === v
        ? predicted[k]!.chunks
        : null;
  return (
    <section className="stage-list" aria-label="Stages">
      <header className="panel-head">
        <h2>Stages</h2>
        <button
          type="button"
          onClick={() => edit(addStage)}
          disabled={doc.machines.length >= doc.layerCount}
          title="Halve the stage with the most layers"
        >
          Add stage
        </button>
      </header>
      {v > 1 && (
        <p className="muted" data-testid="chunks-note">
          Interleaved: each stage holds {v} chunks (stage k: chunks k, p + k, …), split by cost for
          the stages’ machines. Dragging layers and boundaries moves stages with one chunk a stage
          only; add or remove stages, or change machines, here.
        </p>
      )}
      <ol>
        {doc.machines.map((m, k) => (
          <StageLane
            key={k}
            k={k}
            start={doc.bounds[k]!}
            end={doc.bounds[k + 1]!}
            machine={m}
            replicas={doc.replicas[k] ?? NO_REPLICAS}
            prediction={prediction?.plan.prediction.stages[k]}
            layerNames={layerNames}
            machines={machines}
            canRemove={doc.machines.length > 1}
            chunks={chunksOf(k)}
          />
        ))}
      </ol>
    </section>
  );
});
