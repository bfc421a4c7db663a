import { useShallow } from 'zustand/react/shallow';
import type { NodeView } from '../../../native/api/types.js';
import { stageColor } from '../../designer/stageColors.js';
import { formatBytesPair, formatPct, formatTemp } from '../../format.js';
import type { StageInfo } from '../../runs/runData.js';
import { useCluster } from '../../store/clusterStore.js';

/**
 * Live figures of the run's machines from the cluster store: GPU use, VRAM and temperature, or CPU
 * load; one line per process (each replica of a stage run as several).
 */
export function MachineFigures({ stages, live }: { stages: StageInfo[]; live: boolean }) {
  const nodes = useCluster(
    useShallow((s) => stages.map((st) => (st.nodeId ? s.nodes[st.nodeId] : undefined))),
  );
  if (!stages.length) return null;
  return (
    <section className="panel" aria-label="Machines">
      <h3>Machines{live ? '' : ' (now)'}</h3>
      <ul className="machine-figures">
        {stages.map((st, k) => (
          <li
            key={`${st.index}.${st.replica ?? 0}`}
            style={{ borderLeftColor: stageColor(st.index) }}
            data-testid="run-process"
            data-stage={st.index}
            data-replica={st.replica ?? undefined}
          >
            <strong>
              stage {st.index}
              {st.replica === null ? '' : ` · replica ${st.replica}`}
            </strong>{' '}
            {st.node} <span className="muted">({st.backend})</span>
            <Figures node={nodes[k]} gpu={st.backend === 'tensorflow-gpu'} />
          </li>
        ))}
      </ul>
    </section>
  );
}

function Figures({ node, gpu }: { node: NodeView | undefined; gpu: boolean }) {
  const t = node?.telemetry;
  if (!node) return <div className="muted">not in the cluster now</div>;
  if (!t) return <div className="muted">{node.state}, no live figures yet</div>;
  const g = t.gpus[0];
  return (
    <div className="figures">
      {gpu && g ? (
        <>
          <span>GPU {formatPct(g.utilizationPct)}</span>
          <span>VRAM {formatBytesPair(g.memUsedBytes, g.memTotalBytes)}</span>
          <span>{formatTemp(g.temperatureC)}</span>
        </>
      ) : (
        <span>CPU {formatPct(t.cpuLoad * 100)}</span>
      )}
      <span className="muted">{node.state}</span>
    </div>
  );
}
