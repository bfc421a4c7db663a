import { memo, useDeferredValue } from 'react';
import { formatBytesPair, formatPct, formatTemp, formatWatts } from '../format.js';
import { useCluster } from '../store/clusterStore.js';
import { BenchmarkButton } from './BenchmarkButton.js';
import { Meter } from './Meter.js';
import { cardHeight, nodeFacts, nodeWarning } from './nodeFacts.js';
import { Sparkline } from './Sparkline.js';
import { StateBadge } from './StateBadge.js';

const EMPTY: number[] = [];

/** One machine as a card. Subscribes to its own node only, so other machines' updates skip it. */
export const NodeCard = memo(function NodeCard({ id }: { id: string }) {
  // Deferred: a full telemetry update re-renders the visible machines in a time-sliced background
  // render, so the browser keeps painting frames while a hundred sparklines are recomputed.
  const node = useDeferredValue(useCluster((s) => s.nodes[id]));
  const history = useDeferredValue(useCluster((s) => s.history[id]));
  if (!node) return null;
  const f = nodeFacts(node);
  const live = node.state === 'online';
  const warning = nodeWarning(node);
  return (
    <article
      className={`card ${live ? '' : 'card-dim'}`}
      style={{ height: cardHeight(node) }}
      aria-label={`Machine ${node.name}`}
      data-testid="node-card"
      data-node-id={node.id}
    >
      <header className="card-head">
        <h3 className="card-name" title={node.name}>
          {node.name}
        </h3>
        <StateBadge node={node} />
      </header>
      <div className="card-sub">
        <span title="address">{f.address}</span>
        {node.rttMs !== null && live && <span> · {node.rttMs} ms</span>}
      </div>
      {warning && (
        <div className="card-warn" title={warning}>
          {warning}
        </div>
      )}
      <dl className="facts">
        <dt>OS</dt>
        <dd data-testid="node-os">{f.os ?? '—'}</dd>
        <dt>CPU</dt>
        <dd data-testid="node-cpu">
          <span className="clip" title={f.cpu ?? ''}>
            {f.cpu ?? '—'}
          </span>
        </dd>
        <dt>Load</dt>
        <dd className="with-spark">
          <Sparkline
            values={history?.cpu ?? EMPTY}
            width={120}
            height={18}
            label={`CPU load of ${node.name} over the last minute`}
          />
          <span className="num">{formatPct(f.cpuLoad)}</span>
        </dd>
        <dt>Memory</dt>
        <dd data-testid="node-memory">
          <Meter
            fraction={f.memUsed !== null && f.memTotal ? f.memUsed / f.memTotal : null}
            label={`Memory used on ${node.name}`}
            text={formatBytesPair(f.memUsed, f.memTotal)}
          />
        </dd>
        <dt>Backend</dt>
        <dd data-testid="node-backend">
          <span className="clip">{f.backend ?? '—'}</span>
          <BenchmarkButton id={node.id} name={node.name} disabled={!live} />
        </dd>
      </dl>
      {f.gpuBackendWhyNot && (
        <div className="card-note clip two-lines" title={f.gpuBackendWhyNot}>
          GPU backend unavailable: {f.gpuBackendWhyNot}
        </div>
      )}
      {f.gpus.length === 0 ? (
        <div className="card-note clip">{f.gpuNote ?? 'No GPU found'}</div>
      ) : (
        <ul className="gpus" aria-label={`GPUs of ${node.name}`}>
          {f.gpus.map((g, i) => (
            <li key={g.index} className="gpu">
              <div className="gpu-head">
                <span className="clip" title={g.model}>
                  GPU {g.index} · {g.model}
                  {g.drive ? ` · ${g.drive}` : ''}
                </span>
                <span className="num">
                  {formatTemp(g.temp)} · {formatWatts(g.power, g.powerLimit)}
                </span>
              </div>
              <div className="gpu-body">
                <Meter
                  fraction={g.vramUsed !== null && g.vramTotal ? g.vramUsed / g.vramTotal : null}
                  label={`VRAM used on GPU ${g.index} of ${node.name}`}
                  text={formatBytesPair(g.vramUsed, g.vramTotal)}
                />
                <span className="with-spark">
                  <Sparkline
                    values={history?.gpu[i] ?? EMPTY}
                    width={80}
                    height={18}
                    label={`Utilisation of GPU ${g.index} of ${node.name} over the last minute`}
                  />
                  <span className="num">{formatPct(g.util)}</span>
                </span>
              </div>
            </li>
          ))}
        </ul>
      )}
    </article>
  );
});
