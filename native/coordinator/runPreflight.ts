import { chunkSlices } from '../pipeline/stageProtocol.js';
import { checkDatasetFits } from '../data/datasetFit.js';
import { checkLossFits } from '../model/losses.js';
import type { ModelSpec } from '../model/spec.js';
import type { ScheduleKind, Sync } from '../common/schemas.js';
import type { NodeRecord } from './nodeRecord.js';
import type { Registry } from './registry.js';
import {
  chunksOfRun,
  hasReplicas,
  replicaCount,
  workersOf,
  type RunStagePlacement,
} from './runSpec.js';

/** One place a stage is to run, and what the registry knows of its machine. */
export interface StagePlace {
  stage: number;
  machineId: string;
  /** The name the plan gives the machine (absent where a run names only ids). */
  machineName?: string;
}

/**
 * Who says that a machine is not online, each in the words its users have always read: the run
 * itself (a run started without a plan), the app (RunService) and `pipefitter train --plan`.
 */
export type MachineWording = 'run' | 'app' | 'cli';

function describe(p: StagePlace, n: NodeRecord | undefined, wording: MachineWording): string {
  const reason = n?.stateReason ? ` (${n.stateReason})` : '';
  switch (wording) {
    case 'run':
      return n
        ? `stage ${p.stage} is placed on ${n.name}, which is ${n.state}${reason}`
        : `stage ${p.stage} is placed on machine ${p.machineId}, which this coordinator has not found`;
    case 'app':
      return n
        ? `stage ${p.stage} is planned on ${n.name}, which is ${n.state}${reason}`
        : `stage ${p.stage} is planned on ${p.machineName ?? p.machineId}, which this app has not found`;
    case 'cli':
      return `stage ${p.stage} is planned on ${p.machineName ?? p.machineId} (${p.machineId}), which is ${n ? n.state : 'not found on the network'}`;
  }
}

/**
 * The one "machines online" check: a sentence for each place whose machine this coordinator has not
 * found or that is not online, in stage order; empty when every machine is online.
 */
export function machinesNotOnline(
  registry: Registry,
  places: StagePlace[],
  wording: MachineWording,
): string[] {
  return places.flatMap((p) => {
    const n = registry.get(p.machineId);
    return n?.state === 'online' ? [] : [describe(p, n, wording)];
  });
}

/**
 * What a run checks before anything starts: the loss fits the model's output, the dataset fits the
 * model (as far as this machine can see it), contiguous layers covering the model, machines online.
 * Throws the first problem.
 */
export function preflightRun(
  registry: Registry,
  run: {
    model: ModelSpec;
    dataset: string;
    stages: RunStagePlacement[];
    sync?: Sync;
    schedule?: ScheduleKind;
    microbatches?: number;
  },
): void {
  if (run.sync?.kind === 'local') {
    // Local SGD runs R independent pipelines that meet every H steps: replica j of every stage must
    // own the same micro-batches, so every stage needs the same replicas and shares.
    const counts = run.stages.map(replicaCount);
    const shares = run.stages.map((s) => JSON.stringify(s.shares ?? null));
    if (
      counts[0]! < 2 ||
      counts.some((c) => c !== counts[0]) ||
      shares.some((s) => s !== shares[0])
    )
      throw new Error(
        `local SGD (sync local:${run.sync.every}) needs every stage run as the same number (≥ 2) of replicas with the same shares; the stages have ${counts.join(', ')}`,
      );
  }
  const { stages, model } = run;
  checkLossFits(model);
  checkDatasetFits(model, run.dataset);
  if (stages.length === 0) throw new Error('the plan has no stages');
  checkChunks(run);
  const p = stages.length;
  const v = chunksOfRun(stages);
  stages.forEach((s, k) => {
    for (const [c, ch] of chunkSlices(s).entries()) {
      // Virtual stage c·p + k starts where the one before it ends (chunk c − 1 of the last stage).
      const before = c * p + k - 1;
      const expectStart =
        before < 0 ? 0 : chunkSlices(stages[before % p]!)[Math.floor(before / p)]!.end;
      if (ch.start !== expectStart || ch.end <= ch.start)
        throw new Error(
          `${v > 1 ? `stage ${k} chunk ${c}` : `stage ${k}`} covers layers [${ch.start}, ${ch.end}), expected to start at ${expectStart}`,
        );
    }
    if (s.shares && s.shares.length !== replicaCount(s))
      throw new Error(
        `stage ${k} has ${replicaCount(s)} replicas but ${s.shares.length} shares of the micro-batches`,
      );
  });
  const places = workersOf(stages).map((w) => ({ stage: w.stage, machineId: w.nodeId }));
  const [problem] = machinesNotOnline(registry, places, 'run');
  if (problem) throw new Error(problem);
  const end = chunkSlices(stages.at(-1)!).at(-1)!.end;
  if (end !== model.layers.length)
    throw new Error(`the stages cover ${end} of the model's ${model.layers.length} layers`);
}

/** Stages of several chunks: an interleaved schedule, as many chunks on every stage, no replicas. */
function checkChunks(run: {
  stages: RunStagePlacement[];
  schedule?: ScheduleKind;
  microbatches?: number;
}): void {
  const { stages } = run;
  const counts = stages.map((s) => chunkSlices(s).length);
  const v = Math.max(...counts);
  if (v === 1) return;
  if (counts.some((c) => c !== v))
    throw new Error(
      `every stage must hold as many chunks as the others; the stages hold ${counts.join(', ')}`,
    );
  if (run.schedule !== undefined && run.schedule !== 'interleaved-1f1b')
    throw new Error(
      `stages of ${v} chunks need the interleaved-1f1b schedule, not ${run.schedule}`,
    );
  const p = stages.length;
  if (p < 2)
    throw new Error(
      'interleaving needs at least 2 stages (one stage of several chunks is one stage)',
    );
  if (run.microbatches !== undefined && run.microbatches % p !== 0)
    throw new Error(
      `interleaved 1F1B sends micro-batches round the ${p} stages in groups of ${p}: ` +
        `use a number of micro-batches that is a multiple of ${p} (not ${run.microbatches})`,
    );
  if (hasReplicas(stages))
    throw new Error(
      'interleaved schedules with replicas are not built: give a stage several chunks or several replicas, not both',
    );
}
