import { memo } from 'react';
import type { MachineLoad, Prediction } from '../../../native/api/designerSchemas.js';
import type { DesignerMachine } from '../../designer/machines.js';
import {
  addReplica,
  placeStage,
  stageMachines,
  stagesOn,
  type DesignDoc,
} from '../../designer/planModel.js';
import { startDrag } from '../../designer/pointerDrag.js';
import { stageColor } from '../../designer/stageColors.js';
import { backendLabel, formatBytes, formatGflops } from '../../format.js';
import { edit } from '../../store/designerStore.js';

interface Props {
  doc: DesignDoc;
  machines: DesignerMachine[];
  /** The prediction shown, null while there is none. */
  prediction: Prediction | null;
  excluded: ReadonlySet<string>;
  onToggle(id: string): void;
}

type Breakdown = Prediction['plan']['prediction']['stages'][number]['memory'];

/** What fills a machine: the sum over its stages, by kind. */
function breakdownOf(prediction: Prediction, load: MachineLoad): Breakdown {
  const sum: Breakdown = { weights: 0, gradients: 0, optimizer: 0, activations: 0 };
  for (const k of load.stages) {
    const m = prediction.plan.prediction.stages[k]?.memory;
    if (!m) continue;
    sum.weights += m.weights;
    sum.gradients += m.gradients;
    sum.optimizer += m.optimizer;
    sum.activations += m.activations;
  }
  return sum;
}

function MemoryBar({ load, parts }: { load: MachineLoad; parts: Breakdown }) {
  const fits = load.usedBytes <= load.freeBytes;
  const frac = Math.min(1, load.usedBytes / Math.max(1, load.freeBytes));
  const text = fits
    ? `${formatBytes(load.usedBytes)} of ${formatBytes(load.freeBytes)} free`
    : `${formatBytes(load.usedBytes - load.freeBytes)} short: needs ${formatBytes(load.usedBytes)}, ${formatBytes(load.freeBytes)} free`;
  return (
    <div
      className="plan-memory"
      data-testid={`memory-${load.name}`}
      data-fits={fits}
      title={`weights ${formatBytes(parts.weights)} + gradients ${formatBytes(parts.gradients)} + optimizer ${formatBytes(parts.optimizer)} + stashed activations ${formatBytes(parts.activations)}`}
    >
      <div
        className="meter-track"
        role="meter"
        aria-label={`Planned memory on ${load.name}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(frac * 100)}
        aria-valuetext={text}
      >
        <div
          className={`meter-fill ${fits ? 'low' : 'over'}`}
          style={{ width: `${frac * 100}%` }}
        />
      </div>
      <span className={fits ? 'meter-text' : 'meter-text shortfall'}>{text}</span>
    </div>
  );
}

/** What a drop of a machine's chip on a stage does: on the stage's "+ replica", add; else place. */
const MACHINE_DROP_TARGETS = '[data-drop-replica-stage], [data-drop-stage]';

/**
 * The stages a machine runs as "0,2r": a string, so the card's memo compares by value; "r" marks a
 * stage it runs as a further replica (its first replica is elsewhere).
 */
function stageKeyOf(doc: DesignDoc, id: string): string {
  return stagesOn(doc, id)
    .map((k) => (stageMachines(doc, k)[0]!.id === id ? `${k}` : `${k}r`))
    .join(',');
}

interface CardProps {
  machine: DesignerMachine;
  /** Its stages (see stageKeyOf). */
  stageKey: string;
  load: MachineLoad | undefined;
  prediction: Prediction | null;
  included: boolean;
  onToggle(id: string): void;
}

/** One machine, memoised: a drop re-renders only the cards whose stages or memory changed. */
const MachineCard = memo(function MachineCard({
  machine: m,
  stageKey,
  load,
  prediction,
  included,
  onToggle,
}: CardProps) {
  const stages = stageKey
    ? stageKey.split(',').map((x) => ({ k: parseInt(x, 10), replica: x.endsWith('r') }))
    : [];
  return (
    <li
      className="machine-target"
      role="group"
      aria-label={`Machine ${m.name}`}
      data-drop-machine={m.id}
    >
      <div className="machine-head">
        <button
          type="button"
          className="drag-chip machine-chip"
          aria-label={`Drag ${m.name} onto a stage`}
          onPointerDown={(ev) =>
            startDrag(ev, {
              label: m.name,
              targets: MACHINE_DROP_TARGETS,
              onDrop: (t) => {
                const place = { id: m.id, name: m.name };
                const r = t?.dataset.dropReplicaStage;
                const k = t?.dataset.dropStage;
                if (r !== undefined) edit((d) => addReplica(d, Number(r), place));
                else if (k !== undefined) edit((d) => placeStage(d, Number(k), place));
              },
            })
          }
        >
          {m.name}
        </button>
        <span
          className="replica-target"
          data-drop-replica={m.id}
          data-testid={`replica-target-${m.name}`}
          title={`Drop a stage here to run it on ${m.name} as well, as one more replica (the replicas share each step's micro-batches and sum their gradients)`}
        >
          + replica
        </span>
        <label className="auto-use" title="Let Auto-partition use this machine">
          <input
            type="checkbox"
            checked={included}
            onChange={() => onToggle(m.id)}
            aria-label={`Use ${m.name} for Auto-partition`}
          />
          auto
        </label>
      </div>
      <div className="machine-facts muted">
        {m.gpus.length ? m.gpus.join(', ') : 'no GPU'} · {formatBytes(m.freeBytes)} free ·{' '}
        {m.gflops === null
          ? 'speed not measured'
          : `${formatGflops(m.gflops)} ${m.backend ? backendLabel(m.backend) : ''}`}
      </div>
      <div className="machine-stages">
        {stages.map(({ k, replica }) => (
          <span key={k} className="stage-tag" style={{ background: stageColor(k) }}>
            Stage {k + 1}
            {replica ? ' (replica)' : ''}
          </span>
        ))}
        {stages.length === 0 && <span className="muted">drop a stage here</span>}
      </div>
      {load && prediction && <MemoryBar load={load} parts={breakdownOf(prediction, load)} />}
    </li>
  );
});

/**
 * The machines stages can go on: drop a stage on a card (or drag a card onto a stage) to move it
 * there; drop it on a card's "+ replica" (or a card on a stage's "+ replica") to run it there as well.
 */
export const MachinePanel = memo(function MachinePanel({
  doc,
  machines,
  prediction,
  excluded,
  onToggle,
}: Props) {
  const loadOf = new Map((prediction?.machines ?? []).map((l) => [l.id, l]));
  return (
    <section className="machine-panel" aria-label="Machines">
      <header className="panel-head">
        <h2>Machines</h2>
      </header>
      <p className="muted panel-hint">
        Drop a stage on a machine to move it there; on its <strong>+ replica</strong> to run it
        there as well.
      </p>
      {machines.length === 0 && (
        <p className="muted">No machines online. Start an agent (see the Cluster view).</p>
      )}
      <ul>
        {machines.map((m) => {
          const load = loadOf.get(m.id);
          return (
            <MachineCard
              key={m.id}
              machine={m}
              stageKey={stageKeyOf(doc, m.id)}
              load={load}
              // Only the cards with a memory bar need the prediction (for its breakdown).
              prediction={load ? prediction : null}
              included={!excluded.has(m.id)}
              onToggle={onToggle}
            />
          );
        })}
      </ul>
    </section>
  );
});
