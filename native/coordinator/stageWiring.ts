import type { Tf } from '../backend/tfTypes.js';
import { buildModel } from '../model/build.js';
import type { StageEvent } from '../pipeline/stageProtocol.js';
import type { ResultTypes } from '../protocol/controlSchemas.js';
import { ControlType } from '../protocol/version.js';
import type { Coordinator } from './coordinator.js';
import { joinOptimizerState } from './optimizerStateSlices.js';
import type { RunSpec } from './runSpec.js';
import { StageLink } from './stageLink.js';

/** Where a spawned stage host listens, and its process. */
export type SpawnedStage = ResultTypes[ControlType.StageSpawn];

/** What a configured stage reports: the backend it trains on; the edges also their data's sizes. */
export interface ConfiguredStage {
  backend: string;
  datasetSizes: { train: number; test: number } | null;
}

/** Names a stage's machine in messages: "name (host)", or its id while the registry lacks it. */
export type MachineNamer = (stage: number) => string;

/** Words for how a stage's process ended, or null while it runs (or its agent does not know it). */
export function describeStageEnd(s: ResultTypes[ControlType.StageStatus]): string | null {
  if (s.state !== 'exited') return null;
  if (s.signal)
    return `the stage process was killed by ${s.signal}${s.signal === 'SIGKILL' ? " (a user's kill -9, or the kernel's out-of-memory killer)" : ''}`;
  return `the stage process exited with code ${s.code ?? '?'}${s.lastError ? `: ${s.lastError}` : ''}`;
}

/** Asks each stage's agent to start a stage host for it. */
export function spawnStages(
  coordinator: Coordinator,
  spec: RunSpec,
  machine: MachineNamer,
): Promise<SpawnedStage[]> {
  return Promise.all(
    spec.stages.map((s, k) =>
      coordinator
        .request(
          s.nodeId,
          ControlType.StageSpawn,
          {
            runId: spec.runId,
            stageIndex: k,
            backend: spec.backend ?? 'auto',
            rows: Math.max(1, Math.ceil(spec.batch / spec.microbatches)),
            ...(s.gpu === undefined ? {} : { gpu: s.gpu }),
          },
          40_000,
        )
        .catch((err: Error) => {
          throw new Error(`stage ${k} on ${machine(k)} could not start: ${err.message}`);
        }),
    ),
  );
}

/** Opens the coordinator's link to each spawned stage host. */
export function openLinks(
  coordinator: Coordinator,
  spec: RunSpec,
  spawned: SpawnedStage[],
  on: { event: (e: StageEvent) => void; lost: (stage: number, why: string) => void },
): StageLink[] {
  return spec.stages.map((s, k) => {
    const node = coordinator.registry.get(s.nodeId)!;
    const link = new StageLink(
      node.endpoint.host,
      spawned[k]!.port,
      node.endpoint.publicKey,
      coordinator.clientKeyPair,
    );
    link.on('event', on.event);
    link.on('lost', (why) => on.lost(k, why));
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
  let offset = 0;
  let varOffset = 0;
  const configured = await Promise.all(
    spec.stages.map((s, k) => {
      const count = perLayer.slice(s.start, s.end).reduce((a, b) => a + b, 0);
      const mine = all.slice(offset, offset + count);
      offset += count;
      const vars = trainablePerLayer.slice(s.start, s.end).reduce((a, b) => a + b, 0);
      const optimizerState = state
        ? joinOptimizerState(
            spec.optimizer.name,
            state.optimizer,
            state.optimizer.perVariable.slice(varOffset, varOffset + vars),
          )
        : [];
      varOffset += vars;
      const isEdge = k === 0 || k === spec.stages.length - 1;
      const peers = [spec.stages[k - 1], spec.stages[k + 1]]
        .filter((p) => !!p)
        .map((p) => coordinator.registry.get(p.nodeId)!.endpoint.publicKey);
      return links[k]!.request(
        {
          type: 'configure',
          runId: spec.runId,
          stageIndex: k,
          stages: spec.stages.length,
          model: spec.model,
          start: s.start,
          end: s.end,
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
        spec.resume
          ? []
          : [...mine, ...optimizerState].map(({ data: d }) =>
              Buffer.from(d.buffer, d.byteOffset, d.byteLength),
            ),
        120_000,
      )
        .then((r) => r.result as ConfiguredStage)
        .catch((err: Error) => {
          throw new Error(`stage ${k} on ${machine(k)}: ${err.message}`);
        });
    }),
  );
  // getWeights() hands out the variables themselves: disposing the model frees them.
  full.dispose();
  return configured;
}

/** Tells each stage where its next neighbour listens (the last stage has none). */
export async function connectNeighbours(
  coordinator: Coordinator,
  spec: RunSpec,
  links: StageLink[],
  spawned: SpawnedStage[],
): Promise<void> {
  await Promise.all(
    spec.stages.map((_, k) => {
      const next = spec.stages[k + 1];
      const node = next ? coordinator.registry.get(next.nodeId)! : null;
      const peer = node
        ? {
            host: node.endpoint.host,
            port: spawned[k + 1]!.port,
            publicKey: node.endpoint.publicKey,
          }
        : null;
      return links[k]!.request({ type: 'connect', next: peer });
    }),
  );
}

/** How stage k's process ended, in words, as its agent saw it; null when the agent cannot say. */
export async function askStageEnd(
  coordinator: Coordinator,
  spec: RunSpec,
  k: number,
): Promise<string | null> {
  try {
    const status = await coordinator.request(
      spec.stages[k]!.nodeId,
      ControlType.StageStatus,
      { runId: spec.runId, stageIndex: k, waitMs: 1000 },
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
    [...new Set(spec.stages.map((s) => s.nodeId))].map((id) =>
      coordinator.request(id, ControlType.StageStop, { runId: spec.runId }, 5000).catch(() => {}),
    ),
  );
}
