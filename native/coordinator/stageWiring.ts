import type { Tf } from '../backend/tfTypes.js';
import { buildModel } from '../model/build.js';
import { chunkSlices, type StageEvent } from '../pipeline/stageProtocol.js';
import type { ResultTypes } from '../protocol/controlSchemas.js';
import { ControlType } from '../protocol/version.js';
import type { Coordinator } from './coordinator.js';
import { joinOptimizerState } from '../pipeline/optimizerStateSlices.js';
import { neighbourStage } from '../planner/schedule.js';
import { chunksOfRun, replicaCount, workersOf, type RunSpec, type StageWorker } from './runSpec.js';
import { StageLink } from './stageLink.js';

/** Where a spawned stage host listens, and its process. */
export type SpawnedStage = ResultTypes[ControlType.StageSpawn];

/** What a configured stage reports: the backend it trains on; the edges also their data's sizes. */
export interface ConfiguredStage {
  backend: string;
  datasetSizes: { train: number; test: number } | null;
  /** The port of its all-reduce ring socket (a stage of several replicas), else null. */
  ringPort: number | null;
}

/**
 * Names a process in messages: "stage k on name (host)", "stage k replica r on …" (the machine's id
 * while the registry lacks it).
 */
export type MachineNamer = (w: StageWorker) => string;

/** Words for how a stage's process ended, or null while it runs (or its agent does not know it). */
export function describeStageEnd(s: ResultTypes[ControlType.StageStatus]): string | null {
  if (s.state !== 'exited') return null;
  if (s.signal)
    return `the stage process was killed by ${s.signal}${s.signal === 'SIGKILL' ? " (a user's kill -9, or the kernel's out-of-memory killer)" : ''}`;
  return `the stage process exited with code ${s.code ?? '?'}${s.lastError ? `: ${s.lastError}` : ''}`;
}

/** Asks each process's agent to start a stage host for it (workersOf's order). */
export function spawnStages(
  coordinator: Coordinator,
  spec: RunSpec,
  machine: MachineNamer,
): Promise<SpawnedStage[]> {
  return Promise.all(
    workersOf(spec.stages).map((w) =>
      coordinator
        .request(
          w.nodeId,
          ControlType.StageSpawn,
          {
            runId: spec.runId,
            stageIndex: w.stage,
            replica: w.replica,
            backend: spec.backend ?? 'auto',
            rows: Math.max(1, Math.ceil(spec.batch / spec.microbatches)),
            ...(w.gpu === undefined ? {} : { gpu: w.gpu }),
          },
          40_000,
        )
        .catch((err: Error) => {
          throw new Error(`${machine(w)} could not start: ${err.message}`);
        }),
    ),
  );
}

/** Opens the coordinator's link to each spawned stage host (workersOf's order). */
export function openLinks(
  coordinator: Coordinator,
  spec: RunSpec,
  spawned: SpawnedStage[],
  on: {
    event: (e: StageEvent, w: StageWorker) => void;
    lost: (w: StageWorker, why: string) => void;
  },
): StageLink[] {
  return workersOf(spec.stages).map((w, i) => {
    const node = coordinator.registry.get(w.nodeId)!;
    const link = new StageLink(
      node.endpoint.host,
      spawned[i]!.port,
      node.endpoint.publicKey,
      coordinator.clientKeyPair,
    );
    link.on('event', (e) => on.event(e, w));
    link.on('lost', (why) => on.lost(w, why));
    return link;
  });
}

/**
 * Initialises the whole model once, here, from its seed, and sends each stage its layers, its
 * slice's weights and its neighbours' keys.
 */
export async function configureStages(
  coordinator: Coordinator,
  tf: Tf,
  spec: RunSpec,
  links: StageLink[],
  machine: MachineNamer,
): Promise<ConfiguredStage[]> {
  const full = buildModel(tf, spec.model);
  const initial = full.getWeights();
  const state = spec.resumeState;
  if (state && state.weights.length !== initial.length)
    throw new Error(
      `the checkpoint has ${state.weights.length} weights, the model ${initial.length}`,
    );
  // Resumed from the stages' own files, no weight travels: none is read back here either.
  const all: { shape: number[]; data: Float32Array }[] = state
    ? state.weights
    : spec.resume
      ? []
      : initial.map((w) => ({ shape: w.shape, data: w.dataSync() as Float32Array }));
  const perLayer = spec.model.layers.map((_, i) => full.layers[i]!.weights.length);
  const trainablePerLayer = spec.model.layers.map(
    (_, i) => full.layers[i]!.trainableWeights.length,
  );
  const workers = workersOf(spec.stages);
  if (spec.resume && workers.some((w) => w.replica > 0))
    throw new Error(
      'a stage with replicas resumes from the driver’s copy of its checkpoint (only replica 0 keeps one)',
    );
  const replicas = spec.stages.map((s) => ({
    count: replicaCount(s),
    ...(s.shares ? { shares: s.shares } : {}),
  }));
  const keyOf = (w: StageWorker) => coordinator.registry.get(w.nodeId)!.endpoint.publicKey;
  // Where layer i's weights and trainable variables begin in the model's lists.
  const prefix = (counts: number[]) => counts.reduce((a, n) => [...a, a.at(-1)! + n], [0]);
  const weightAt = prefix(perLayer);
  const varAt = prefix(trainablePerLayer);
  const p = spec.stages.length;
  const v = chunksOfRun(spec.stages);
  const neighbours = (a: number, b: number) =>
    a === b || neighbourStage('next', a, p, v) === b || neighbourStage('previous', a, p, v) === b;
  const requests = spec.stages.map((s, k) => {
    // A stage's weights and optimizer state: its chunks', chunk 0 first.
    const ranges = chunkSlices(s);
    const mine = ranges.flatMap((r) => all.slice(weightAt[r.start], weightAt[r.end]));
    const optimizerState = state
      ? joinOptimizerState(
          spec.optimizer.name,
          state.optimizer,
          ranges.flatMap((r) => state.optimizer.perVariable.slice(varAt[r.start], varAt[r.end])),
        )
      : [];
    const isEdge = k === 0 || k === spec.stages.length - 1;
    // The neighbours' replicas, and this stage's own (its all-reduce ring).
    const peers = [...new Set(workers.filter((w) => neighbours(w.stage, k)).map((w) => keyOf(w)))];
    const frames = spec.resume
      ? []
      : [...mine, ...optimizerState].map(({ data: d }) =>
          Buffer.from(d.buffer, d.byteOffset, d.byteLength),
        );
    return { k, s, mine, optimizerState, isEdge, peers, frames };
  });
  const configured = await Promise.all(
    workers.map((w, i) => {
      const { k, s, mine, optimizerState, isEdge, peers, frames } = requests[w.stage]!;
      return links[i]!.request(
        {
          type: 'configure',
          runId: spec.runId,
          stageIndex: k,
          stages: spec.stages.length,
          replica: w.replica,
          ...(replicas.some((r) => r.count > 1) ? { replicas } : {}),
          ...(spec.sync ? { sync: spec.sync } : {}),
          model: spec.model,
          start: s.start,
          end: s.end,
          ...(chunkSlices(s).length > 1 ? { chunks: chunkSlices(s) } : {}),
          schedule: spec.schedule,
          microbatches: spec.microbatches,
          batch: spec.batch,
          optimizer: spec.optimizer,
          dataset: isEdge ? spec.dataset : null,
          seed: spec.seed,
          // From a checkpoint, a stage reads its weights from its own disk: none travel.
          weightShapes: spec.resume ? [] : mine.map((w) => w.shape),
          ...(state ? { optimizerStateShapes: optimizerState.map((a) => a.shape) } : {}),
          peerKeys: peers,
          ...(spec.resume
            ? {
                resume: {
                  file: spec.resume.stages[k]!.file,
                  sha256: spec.resume.stages[k]!.sha256,
                  step: spec.resume.step,
                },
              }
            : {}),
        },
        frames,
        120_000,
      )
        .then((r) => r.result as ConfiguredStage)
        .catch((err: Error) => {
          throw new Error(`${machine(w)}: ${err.message}`);
        });
    }),
  );
  // getWeights() hands out the variables themselves: disposing the model frees them.
  full.dispose();
  return configured;
}

/**
 * Tells each process where the next stage's replicas listen (the last stage has none), and, in a stage
 * of several replicas, where the next replica round its all-reduce ring listens.
 */
export async function connectNeighbours(
  coordinator: Coordinator,
  spec: RunSpec,
  links: StageLink[],
  spawned: SpawnedStage[],
  configured: ConfiguredStage[],
): Promise<void> {
  const workers = workersOf(spec.stages);
  const peer = (i: number, port: number) => {
    const node = coordinator.registry.get(workers[i]!.nodeId)!;
    return { host: node.endpoint.host, port, publicKey: node.endpoint.publicKey };
  };
  const indexOf = (stage: number, replica: number) =>
    workers.findIndex((w) => w.stage === stage && w.replica === replica);
  const [p, v] = [spec.stages.length, chunksOfRun(spec.stages)];
  await Promise.all(
    workers.map((w, i) => {
      // Stages of several chunks form a ring: the last stage's next is the first.
      const nextStage = neighbourStage('next', w.stage, p, v);
      const next = workers.flatMap((n, j) =>
        n.stage === nextStage ? [peer(j, spawned[j]!.port)] : [],
      );
      const count = replicaCount(spec.stages[w.stage]!);
      const r = count > 1 ? indexOf(w.stage, (w.replica + 1) % count) : -1;
      const ring = r >= 0 ? peer(r, configured[r]!.ringPort!) : null;
      return links[i]!.request({ type: 'connect', next, ring });
    }),
  );
}

/** How a process ended, in words, as its agent saw it; null when the agent cannot say. */
export async function askStageEnd(
  coordinator: Coordinator,
  spec: RunSpec,
  w: StageWorker,
): Promise<string | null> {
  try {
    const status = await coordinator.request(
      w.nodeId,
      ControlType.StageStatus,
      { runId: spec.runId, stageIndex: w.stage, replica: w.replica, waitMs: 1000 },
      2000,
    );
    return describeStageEnd(status);
  } catch {
    // The agent does not answer either: the machine (or its agent, and the stages with it) is gone.
    return 'the stage process stopped answering, and so did its machine’s agent';
  }
}

/** Stops every stage host of the run (on its machine's agent) and closes the links. */
export async function stopStages(
  coordinator: Coordinator,
  spec: RunSpec,
  links: StageLink[],
): Promise<void> {
  for (const l of links) l.removeAllListeners('lost');
  await Promise.all(links.map((l) => l.request({ type: 'stop' }, [], 2000).catch(() => {})));
  links.forEach((l) => l.close());
  await Promise.all(
    [...new Set(workersOf(spec.stages).map((w) => w.nodeId))].map((id) =>
      coordinator.request(id, ControlType.StageStop, { runId: spec.runId }, 5000).catch(() => {}),
    ),
  );
}
