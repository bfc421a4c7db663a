import type { Timing } from '../../native/api/types.js';
import type { StageInfo } from './runData.js';

/** One row of the run page's timeline: a stage, or one replica of a stage run as several. */
export interface TimelineRow {
  stage: number;
  /** null: the stage's only process (its timings may still say replica 0). */
  replica: number | null;
  label: string;
  /** The machine it ran on, when the run's started event named it. */
  node: string | null;
  timings: Timing[];
}

/**
 * The rows to draw for one step: a row per stage, and for a stage run as replicas a row per replica
 * (each replica runs its own share of the micro-batches, on its own clock), in stage then replica
 * order. The replicas come from the step's timings and from the processes the run started.
 */
export function timelineRows(timings: Timing[], stages: StageInfo[]): TimelineRow[] {
  const count = Math.max(0, ...stages.map((s) => s.index + 1), ...timings.map((t) => t.stage + 1));
  const rows: TimelineRow[] = [];
  for (let k = 0; k < count; k++) {
    const replicas = new Set<number>();
    for (const s of stages) if (s.index === k) replicas.add(s.replica ?? 0);
    for (const t of timings) if (t.stage === k) replicas.add(t.replica ?? 0);
    const nodeOf = (r: number) =>
      stages.find((s) => s.index === k && (s.replica ?? 0) === r)?.node ?? null;
    if (replicas.size <= 1) {
      rows.push({
        stage: k,
        replica: null,
        label: `stage ${k}`,
        node: nodeOf([...replicas][0] ?? 0),
        timings: timings.filter((t) => t.stage === k),
      });
      continue;
    }
    for (const r of [...replicas].sort((a, b) => a - b))
      rows.push({
        stage: k,
        replica: r,
        label: `stage ${k} · replica ${r}`,
        node: nodeOf(r),
        timings: timings.filter((t) => t.stage === k && (t.replica ?? 0) === r),
      });
  }
  return rows;
}
