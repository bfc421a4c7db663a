/**
 * What stands between a layout and a usable plan, each problem in words with the way to fix it. Pure:
 * it reads the document, the machines the Cluster view knows and the last prediction's memory figures.
 */
import type { LayoutSettings, MachineLoad, PlanFile } from '../../native/api/designerSchemas.js';
import {
  DEFAULT_OUTER_LR,
  DEFAULT_OUTER_MOMENTUM,
  SyncSchema,
  type Sync,
} from '../../native/common/schemas.js';
import { MAX_CHUNKS } from '../../native/common/names.js';
import { formatBytes } from '../format.js';
import { stageMachines, stagesOn, type DesignDoc } from './planModel.js';

export interface MachineStatus {
  name: string;
  /** 'online', or the state the registry reports ('unreachable', 'offline'…). */
  state: string;
  measured: boolean;
}

export interface Problem {
  code:
    'no-model' | 'batch' | 'unplaced' | 'missing' | 'not-online' | 'unmeasured' | 'memory' | 'sync';
  message: string;
  fix: string;
  stage?: number;
  machineId?: string;
}

const list = (ks: number[]) =>
  ks.length === 1 ? `stage ${ks[0]! + 1}` : `stages ${ks.map((k) => k + 1).join(', ')}`;

/**
 * `plan` is the last prediction's plan, when current: local SGD also needs its stages to split the
 * micro-batches alike, which only the planner's shares tell.
 */
export function validate(
  doc: DesignDoc,
  machines: ReadonlyMap<string, MachineStatus>,
  loads: readonly MachineLoad[] | null,
  plan: PlanFile | null = null,
): Problem[] {
  if (doc.layerCount === 0)
    return [{ code: 'no-model', message: 'No model chosen.', fix: 'Pick a model or import one.' }];
  const out: Problem[] = [];
  const { batch, microbatches } = doc.settings;
  if (batch % microbatches !== 0)
    out.push({
      code: 'batch',
      message: `The batch (${batch}) does not split into ${microbatches} equal micro-batches.`,
      fix: `Choose a batch that is a multiple of ${microbatches}, or another micro-batch count.`,
    });
  const sync = localSgdProblem(doc, plan);
  if (sync) out.push(sync);
  const reported = new Set<string>();
  doc.machines.forEach((first, k) => {
    if (!first) {
      out.push({
        code: 'unplaced',
        stage: k,
        message: `Stage ${k + 1} is on no machine.`,
        fix: `Drag stage ${k + 1} onto a machine card, or pick a machine in its list.`,
      });
      return;
    }
    // Every replica's machine must be usable: the stage runs on all of them.
    for (const m of stageMachines(doc, k)) {
      if (reported.has(m.id)) continue;
      const on = stagesOn(doc, m.id);
      const status = machines.get(m.id);
      const move = `move ${list(on)} to another machine`;
      if (!status) {
        reported.add(m.id);
        out.push({
          code: 'missing',
          stage: k,
          machineId: m.id,
          message: `${m.name} (${m.id.slice(0, 8)}…), the machine of ${list(on)}, is not on the network now.`,
          fix: `Start its agent, or ${move}.`,
        });
      } else if (status.state !== 'online') {
        reported.add(m.id);
        out.push({
          code: 'not-online',
          stage: k,
          machineId: m.id,
          message: `${status.name}, the machine of ${list(on)}, is ${status.state}.`,
          fix: `Wait for it to come back, or ${move}.`,
        });
      } else if (!status.measured) {
        reported.add(m.id);
        out.push({
          code: 'unmeasured',
          stage: k,
          machineId: m.id,
          message: `${status.name} has no measured speed yet, so nothing can be predicted on it.`,
          fix: 'Press “measure” on its card in the Cluster view, or choose another machine.',
        });
      }
    }
  });
  for (const l of loads ?? [])
    if (l.usedBytes > l.freeBytes)
      out.push({
        code: 'memory',
        machineId: l.id,
        stage: l.stages[0],
        message:
          `${l.name} needs ${formatBytes(l.usedBytes - l.freeBytes)} more than its ` +
          `${formatBytes(l.freeBytes)} free (${list(l.stages)}).`,
        fix:
          'Move a stage to another machine, give it fewer layers, or lower memory: 1F1B, ' +
          'more micro-batches, a smaller batch or SGD.',
      });
  return out;
}

// ---- replicas sync ----

/** Local SGD's H as the designer first offers it (the CLI's example, `--sync local:10`). */
export const DEFAULT_SYNC_EVERY = 10;
/** The most steps between averages a run takes (SyncSchema's bound). */
export const MAX_SYNC_EVERY = 1_000_000;

/** Local SGD every `every` steps with the default outer step (plain averaging), as a run takes it. */
export function localSgd(every: number): Sync {
  return {
    kind: 'local',
    every,
    outerLr: DEFAULT_OUTER_LR,
    outerMomentum: DEFAULT_OUTER_MOMENTUM,
  };
}

/** H of local SGD, or null for every step (absent settings included: they predate the choice). */
export function syncEveryOf(settings: LayoutSettings): number | null {
  return settings.sync?.kind === 'local' ? settings.sync.every : null;
}

/** The H typed in the designer, or why it is not one; checked by the schema a run is checked by. */
export function parseSyncEvery(text: string): { every: number } | { problem: string } {
  const t = text.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (SyncSchema.safeParse(localSgd(n)).success) return { every: n };
  return {
    problem: `Local SGD averages every H steps: H must be a whole number from 1 to ${MAX_SYNC_EVERY.toLocaleString('en')}${t ? `, not “${t.slice(0, 20)}”` : ''}.`,
  };
}

/**
 * Local SGD runs R pipelines apart that meet every H steps, so replica j of every stage must take the
 * same micro-batches: every stage on the same number (≥ 2) of replicas, with the same shares (the
 * run refuses otherwise). Stages on no machine are left to their own problem.
 */
function localSgdProblem(doc: DesignDoc, plan: PlanFile | null): Problem | null {
  const every = syncEveryOf(doc.settings);
  if (every === null) return null;
  const counts = doc.machines.flatMap((m, k) => (m ? [stageMachines(doc, k).length] : []));
  if (counts.length === 0) return null;
  const fix = 'Give every stage as many replicas, or sync every step.';
  if (counts[0]! < 2 || counts.some((c) => c !== counts[0]))
    return {
      code: 'sync',
      message:
        'Local SGD needs every stage on the same number (≥ 2) of replicas; ' +
        `the stages have ${counts.join(', ')}.`,
      fix,
    };
  // The plan's shares split the micro-batches by speed: replicas on machines of unequal speeds in
  // another order in each stage would split them differently.
  const shares = plan?.stages.map((s) => JSON.stringify(s.shares ?? null)) ?? [];
  if (shares.some((s) => s !== shares[0]))
    return {
      code: 'sync',
      message:
        'Local SGD needs every stage’s replicas to split the micro-batches alike, and these ' +
        'stages’ replicas run at different speeds.',
      fix: 'Put every stage’s replicas on the same machines, in the same order, or sync every step.',
    };
  return null;
}

// ---- interleaving ----

/** Fewest chunks the designer offers: one chunk a stage is plain 1F1B. */
export const MIN_CHUNKS = 2;

/** The chunks a stage typed in the designer, or why that is not a count it takes. */
export function parseChunks(text: string): { chunks: number } | { problem: string } {
  const t = text.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (n >= MIN_CHUNKS && n <= MAX_CHUNKS) return { chunks: n };
  return {
    problem: `Each stage holds from ${MIN_CHUNKS} to ${MAX_CHUNKS} chunks: a whole number${t ? `, not “${t.slice(0, 20)}”` : ''}.`,
  };
}
