import { memo, useDeferredValue } from 'react';
import { formatBytesPair, formatPct } from '../format.js';
import { useCluster } from '../store/clusterStore.js';
import { Meter } from './Meter.js';
import { nodeFacts, rowHeight } from './nodeFacts.js';
import { Sparkline } from './Sparkline.js';
import { StateBadge } from './StateBadge.js';

const EMPTY: number[] = [];

/** One machine as a compact table row: the same facts as a card, for many machines at once. */
export const NodeRow = memo(function NodeRow({ id }: { id: string }) {
  // Deferred: a full telemetry update re-renders the visible machines in a time-sliced background
  // render, so the browser keeps painting frames while a hundred sparklines are recomputed.
  const node = useDeferredValue(useCluster((s) => s.nodes[id]));
  const history = useDeferredValue(useCluster((s) => s.history[id]));
  if (!node) return null;
  const f = nodeFacts(node);
  return (
    <div
      role="row"
      className={`row ${node.state === 'online' ? '' : 'card-dim'}`}
      style={{ height: rowHeight(node) }}
      aria-label={`Machine ${node.name}`}
      data-testid="node-row"
      data-node-id={node.id}
    >
      <div role="cell" className="col-name">
        <strong className="clip" title={node.name}>
          {node.name}
        </strong>
        <span className="muted clip">{f.address}</span>
      </div>
      <div role="cell" className="col-state">
        <StateBadge node={node} />
      </div>
      <div role="cell" className="col-cpu">
        <span className="clip muted" title={`${f.os ?? ''} · ${f.cpu ?? ''}`}>
          {f.cpu ?? '—'}
        </span>
        <span className="with-spark">
          <Sparkline
            values={history?.cpu ?? EMPTY}
            width={70}
            height={16}
            label={`CPU load of ${node.name}`}
          />
          <span className="num">{formatPct(f.cpuLoad)}</span>
        </span>
      </div>
      <div role="cell" className="col-mem">
        <Meter
          fraction={f.memUsed !== null && f.memTotal ? f.memUsed / f.memTotal : null}
          label={`Memory used on ${node.name}`}
          text={formatBytesPair(f.memUsed, f.memTotal)}
        />
      </div>
      <div role="cell" className="col-gpus">
        {f.gpus.length === 0 ? (
          <span className="muted clip">{f.gpuNote ?? 'No GPU'}</span>
        ) : (
          f.gpus.map((g, i) => (
            <div key={g.index} className="row-gpu">
              <span className="clip" title={g.model}>
                {g.model}
              </span>
              <Sparkline
                values={history?.gpu[i] ?? EMPTY}
                width={50}
                height={14}
                label={`Utilisation of GPU ${g.index} of ${node.name}`}
              />
              <span className="num">{formatPct(g.util)}</span>
            </div>
          ))
        )}
      </div>
      <div role="cell" className="col-backend" title={f.gpuBackendWhyNot ?? ''}>
        {f.backend ?? '—'}
      </div>
    </div>
  );
});
