import { z } from 'zod';
import { DEFAULT_LINK, pairKey, type Link } from '../planner/cluster.js';
import { unorderedPairs } from '../util/pairs.js';
import { MAX_LINK_ENTRIES } from './linkCache.js';
import type { NodeRecord } from './nodeRecord.js';
import { hostOfNode, sameComputerLink, speedOfNode } from './nodesToCluster.js';

/**
 * One pair of nodes and the link the planner would give it. The figures are always the planner's:
 * `measured` a fresh measurement between two computers, `same-computer` the slower of the two speed
 * probes' loopback figures, `default` DEFAULT_LINK. `assumed` says the figures are DEFAULT_LINK's, which
 * a same-computer pair also gets while either probe lacks its loopback figure.
 */
export const LinkRowSchema = z.object({
  aId: z.string().max(128),
  a: z.string().max(256),
  bId: z.string().max(128),
  b: z.string().max(256),
  kind: z.enum(['measured', 'same-computer', 'default']),
  latencySeconds: z.number().nonnegative(),
  bytesPerSecond: z.number().positive(),
  assumed: z.boolean(),
  /** ms epoch, measured rows only. */
  measuredAt: z.number().optional(),
});
export type LinkRow = z.infer<typeof LinkRowSchema>;

/** Rows at most: as many pairs as the link cache keeps (a lab of ~90 agents). */
export const MAX_LINK_ROWS = MAX_LINK_ENTRIES;

type Measured = Link & { measuredAt?: number };

function speedOverhead(n: NodeRecord) {
  const speed = speedOfNode(n);
  return speed && 'overhead' in speed ? speed.overhead : undefined;
}

/**
 * Every unordered pair of `nodes` once, nodes by name then id (so a list reads the same each time),
 * with how the planner would link them. `measured` is keyed by pairKey (Coordinator.measuredLinks or
 * measuredLinkEntries); like the planner, it is never used for two agents on one computer. At most
 * `max` rows; `total` counts every pair.
 */
export function linkRows(
  nodes: readonly NodeRecord[],
  measured: ReadonlyMap<string, Measured>,
  max = MAX_LINK_ROWS,
): { rows: LinkRow[]; total: number } {
  const sorted = [...nodes].sort((x, y) =>
    x.name < y.name ? -1 : x.name > y.name ? 1 : x.id < y.id ? -1 : x.id > y.id ? 1 : 0,
  );
  const total = (sorted.length * (sorted.length - 1)) / 2;
  const rows: LinkRow[] = [];
  for (const [a, b] of unorderedPairs(sorted)) {
    if (rows.length >= max) break;
    const names = { aId: a.id, a: a.name, bId: b.id, b: b.name };
    const host = hostOfNode(a);
    if (host !== undefined && host === hostOfNode(b)) {
      const loop = sameComputerLink(speedOverhead(a), speedOverhead(b));
      rows.push({ ...names, kind: 'same-computer', ...(loop ?? DEFAULT_LINK), assumed: !loop });
      continue;
    }
    const m = measured.get(pairKey(a.id, b.id));
    rows.push(
      m
        ? {
            ...names,
            kind: 'measured',
            latencySeconds: m.latencySeconds,
            bytesPerSecond: m.bytesPerSecond,
            assumed: false,
            ...(m.measuredAt !== undefined ? { measuredAt: m.measuredAt } : {}),
          }
        : { ...names, kind: 'default', ...DEFAULT_LINK, assumed: true },
    );
  }
  return { rows, total };
}
