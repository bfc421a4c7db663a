import { z } from 'zod';
import { pairKey, type Link } from '../planner/cluster.js';
import { LinkMeasureResultSchema } from '../protocol/controlSchemas.js';
import { readJsonFile, writeFileAtomic } from '../util/fsAtomic.js';
import { unorderedPairs } from '../util/pairs.js';
import type { NodeRecord } from './nodeRecord.js';

/** A measurement older than this is taken again: a lab's network changes (a switch, a cable, load). */
export const LINK_MAX_AGE_MS = 60 * 60 * 1000;
/** Pairs kept at most (a lab of ~90 agents); the oldest go first. */
export const MAX_LINK_ENTRIES = 4096;

const EntrySchema = LinkMeasureResultSchema.extend({
  a: z.string().min(1).max(64),
  b: z.string().min(1).max(64),
  measuredAt: z.number(),
  /** Each agent's start as its hello said: a restarted agent's links are measured again. */
  aStartedAt: z.number().nullable(),
  bStartedAt: z.number().nullable(),
});
export type LinkEntry = z.infer<typeof EntrySchema>;
const FileSchema = z.object({ links: z.array(EntrySchema).max(MAX_LINK_ENTRIES) });

/**
 * Measured links per unordered pair of node ids, kept in memory and in `links.json` in the
 * coordinator's state dir, so a coordinator started again (each `pipefitter train` is one) does not
 * measure what it measured a minute ago. An entry holds while younger than LINK_MAX_AGE_MS and while
 * neither agent has restarted since.
 */
export class LinkCache {
  private readonly entries = new Map<string, LinkEntry>();

  constructor(private readonly file: string | null) {
    if (!file) return;
    // A file from another version, damaged or unreadable is no cache at all, never an error.
    let raw: unknown;
    try {
      raw = readJsonFile<unknown>(file);
    } catch {
      return;
    }
    const parsed = FileSchema.safeParse(raw);
    if (parsed.success) for (const e of parsed.data.links) this.entries.set(pairKey(e.a, e.b), e);
  }

  /** The entry for the pair if it still holds for these two records now. */
  fresh(a: NodeRecord, b: NodeRecord, now = Date.now()): LinkEntry | null {
    const e = this.entries.get(pairKey(a.id, b.id));
    if (!e || now - e.measuredAt > LINK_MAX_AGE_MS || e.measuredAt > now) return null;
    const started = (id: string) => (id === e.a ? e.aStartedAt : e.bStartedAt);
    const same = (n: NodeRecord) => (n.agentStartedAt ?? null) === started(n.id);
    return same(a) && same(b) ? e : null;
  }

  set(a: NodeRecord, b: NodeRecord, link: Link, now = Date.now()): LinkEntry {
    const entry: LinkEntry = {
      a: a.id,
      b: b.id,
      latencySeconds: link.latencySeconds,
      bytesPerSecond: link.bytesPerSecond,
      measuredAt: now,
      aStartedAt: a.agentStartedAt ?? null,
      bStartedAt: b.agentStartedAt ?? null,
    };
    const key = pairKey(a.id, b.id);
    this.entries.delete(key);
    this.entries.set(key, entry);
    // A Map keeps insertion order and set() re-inserts: the first keys are the oldest measurements.
    for (const k of this.entries.keys()) {
      if (this.entries.size <= MAX_LINK_ENTRIES) break;
      this.entries.delete(k);
    }
    this.save();
    return entry;
  }

  /** The fresh entries among `nodes`, keyed by pairKey: the links with when they were measured. */
  entriesAmong(nodes: NodeRecord[], now = Date.now()): Map<string, LinkEntry> {
    const out = new Map<string, LinkEntry>();
    for (const [a, b] of unorderedPairs(nodes)) {
      const e = this.fresh(a, b, now);
      if (e) out.set(pairKey(a.id, b.id), e);
    }
    return out;
  }

  /** The fresh links among `nodes`, keyed by pairKey, as clusterFromNodes takes them. */
  linksAmong(nodes: NodeRecord[], now = Date.now()): Map<string, Link> {
    const out = new Map<string, Link>();
    for (const [key, e] of this.entriesAmong(nodes, now))
      out.set(key, { latencySeconds: e.latencySeconds, bytesPerSecond: e.bytesPerSecond });
    return out;
  }

  private save(): void {
    if (!this.file) return;
    const links = [...this.entries.values()];
    try {
      writeFileAtomic(this.file, JSON.stringify({ links }, null, 2) + '\n', 0o644);
    } catch {
      // A full or read-only disk costs the next coordinator a measurement; this one keeps its copy.
    }
  }
}
