import { memo } from 'react';
import type { Prediction } from '../../../native/api/designerSchemas.js';
import type { DesignerMachine } from '../../designer/machines.js';
import {
  addStage,
  placeStage,
  removeStage,
  type DesignDoc,
  type Placement,
} from '../../designer/planModel.js';
import { startDrag } from '../../designer/pointerDrag.js';
import { stageColor } from '../../designer/stageColors.js';
import { formatSeconds } from '../../designer/units.js';
import { edit } from '../../store/designerStore.js';

type StagePrediction = Prediction['plan']['prediction']['stages'][number];

interface LaneProps {
  k: number;
  start: number;
  end: number;
  machine: Placement | null;
  prediction: StagePrediction | undefined;
  layerNames: string[];
  machines: DesignerMachine[];
  canRemove: boolean;
}

/** One stage, memoised on plain values: a drop re-renders only the lanes it changed. */
const StageLane = memo(function StageLane({
  k,
  start: s,
  end: e,
  machine: m,
  prediction: p,
  layerNames,
  machines,
  canRemove,
}: LaneProps) {
  const byId = (id: string | undefined) => machines.find((x) => x.id === id);
  const missing = m && !byId(m.id);
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
              targets: '[data-drop-machine]',
              onDrop: (t) => {
                const target = byId(t?.dataset.dropMachine);
                if (target) edit((d) => placeStage(d, k, { id: target.id, name: target.name }));
              },
            })
          }
        >
          Stage {k + 1}
        </button>
        <span className="muted" data-testid={`stage-${k + 1}-layers`}>
          {e - s === 1
            ? layerNames[s]
            : `${layerNames[s]} … ${layerNames[e - 1]} (${e - s} layers)`}
        </span>
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
      {p && (
        <dl className="stage-times" data-testid={`stage-${k + 1}-times`}>
          <dt>forward</dt>
          <dd>{formatSeconds(p.forwardSeconds)}</dd>
          <dt>backward</dt>
          <dd>{formatSeconds(p.backwardSeconds)}</dd>
          <dt>comm</dt>
          <dd>{formatSeconds(p.sendActivationSeconds + p.sendGradientSeconds)}</dd>
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

/** One lane per stage: its layers, its machine (select or drop), and its predicted times. */
export const StageList = memo(function StageList({ doc, layerNames, machines, prediction }: Props) {
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
      <ol>
        {doc.machines.map((m, k) => (
          <StageLane
            key={k}
            k={k}
            start={doc.bounds[k]!}
            end={doc.bounds[k + 1]!}
            machine={m}
            prediction={prediction?.plan.prediction.stages[k]}
            layerNames={layerNames}
            machines={machines}
            canRemove={doc.machines.length > 1}
          />
        ))}
      </ol>
    </section>
  );
});
