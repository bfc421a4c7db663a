import { useEffect, useState } from 'react';
import type { ApiResponse, NodeView } from '../../native/api/types.js';
import { formatAgo, formatLatency, formatRate } from '../../native/common/format.js';
import { useApi } from '../hostContext.js';
import { useCluster } from '../store/clusterStore.js';
import { useLinksEpoch } from '../store/linksStore.js';
import { useNow } from './useNow.js';

type Links = ApiResponse<'listLinks'>;
type LinkRow = Links['links'][number];

/**
 * What a pair's link depends on: who the machines are, whether they are up, which computer they run
 * on and their latest probe (its loopback figure). Telemetry changes none of it, so a machine's load
 * ticking every second does not ask for the links again.
 */
function linksKey(nodes: Record<string, NodeView>): string {
  return Object.values(nodes)
    .map(
      (n) =>
        `${n.id} ${n.name} ${n.state} ${n.inventory?.static.hostname ?? ''} ${n.speed?.measuredAt ?? n.inventory?.speed?.measuredAt ?? ''}`,
    )
    .sort()
    .join('\n');
}

/** How the planner came by the pair's figures, in words. */
function howObtained(r: LinkRow, now: number): string {
  if (r.kind === 'measured')
    return r.measuredAt === undefined ? 'measured' : `measured ${formatAgo(now - r.measuredAt)}`;
  if (r.kind === 'same-computer')
    return r.assumed
      ? 'same computer: loopback not probed yet, planned as gigabit Ethernet'
      : 'same computer (loopback)';
  return 'not measured: planned as gigabit Ethernet';
}

/** The link between every pair of machines, as the planner would use it. */
export function LinkList() {
  const api = useApi();
  const key = useCluster((s) => linksKey(s.nodes));
  const count = useCluster((s) => Object.keys(s.nodes).length);
  const open = useCluster((s) => s.connection === 'open');
  const offset = useCluster((s) => s.clockOffsetMs);
  const epoch = useLinksEpoch();
  const [links, setLinks] = useState<Links | null>(null);
  const [error, setError] = useState<string | null>(null);
  // "measured 3 min ago" needs no faster clock than this.
  const now = useNow(links !== null && links.links.length > 0, 15_000) + offset;

  useEffect(() => {
    if (!open || count < 2) return;
    let current = true;
    api
      .listLinks({})
      .then((l) => {
        if (!current) return;
        setLinks(l);
        setError(null);
      })
      .catch((e: Error) => current && setError(e.message));
    return () => {
      current = false;
    };
  }, [api, key, count, open, epoch]);

  return (
    <details className="links" open data-testid="links">
      <summary>
        Links
        {count >= 2 && links && (
          <span className="muted">
            {' '}
            · {links.total} {links.total === 1 ? 'pair' : 'pairs'}
          </span>
        )}
      </summary>
      {count < 2 ? (
        <p className="muted links-empty">Links between machines appear once there are two.</p>
      ) : error ? (
        <p className="error-text" role="alert">
          Could not list the links: {error}
        </p>
      ) : !links ? (
        <p className="muted links-empty">Loading…</p>
      ) : (
        <div className="links-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Link</th>
                <th scope="col">Latency</th>
                <th scope="col">Rate</th>
                <th scope="col">How</th>
              </tr>
            </thead>
            <tbody>
              {links.links.map((r) => (
                <tr key={`${r.aId} ${r.bId}`} data-testid="link-row" data-kind={r.kind}>
                  <td>
                    {r.a} ⇄ {r.b}
                  </td>
                  <td className="num">{formatLatency(r.latencySeconds)}</td>
                  <td className="num">{formatRate(r.bytesPerSecond)}</td>
                  <td className="muted">{howObtained(r, now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {links.total > links.links.length && (
            <p className="muted links-empty">
              …and {links.total - links.links.length} more pairs, not listed.
            </p>
          )}
        </div>
      )}
    </details>
  );
}
