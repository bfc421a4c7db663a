import { EpochSampler } from '../data/sampler.js';
import { buildSchedule, replicaActions } from '../planner/schedule.js';
import { ReplicaRouting } from './replicaRouting.js';
import type { OuterStep } from './localSgd.js';
import { datasetFeed } from './datasetFeed.js';
import { ScheduleRunner, type StageData } from './scheduleRunner.js';
import type { CheckpointRule } from './checkpointRule.js';
import { StageCheckpoints } from './stageCheckpoints.js';
import type { Configure, StageEvent, Train } from './stageProtocol.js';
import { runValidation } from './stageValidation.js';
import type { StageSetup } from './stageSetup.js';

export type { StageSetup };

/** How this replica keeps its weights with its stage's others: none, every step, or local SGD. */
export interface ReplicaSync {
  /** The ring's sum over the stage's replicas, tagged, which ALLREDUCE runs on (sync every step). */
  allReduce: ((flat: Float32Array, tag: number) => Promise<void>) | null;
  /** ALLREDUCE in buckets overlapping the last backward (ScheduleRunner says when it pays). */
  overlap?: boolean;
  /** Local SGD: the outer step, every `every` steps. */
  outer: { sync: OuterStep; every: number } | null;
}

/**
 * A stage's training loop: its schedule's action list step after step (ScheduleRunner), a validation
 * pass at the end of each epoch, and every step, memory figure and the end reported through emit.
 * `rule` says after which steps to save a checkpoint (the stage host changes it when the driver says).
 */
export async function runTraining(
  s: StageSetup,
  t: Train,
  emit: (e: StageEvent) => void,
  stopped: () => boolean,
  rule: CheckpointRule,
  replicas: ReplicaSync = { allReduce: null, outer: null },
): Promise<void> {
  const { tf, cfg } = s;
  const k = cfg.stageIndex;
  const sched = buildSchedule(cfg.schedule, cfg.stages, cfg.microbatches, s.chunks.execs.length);
  const sampler = s.dataset ? new EpochSampler(s.dataset.size('train'), cfg.batch, cfg.seed) : null;
  const feed =
    s.dataset && sampler
      ? datasetFeed(s.dataset, sampler, cfg.microbatches, cfg.model.inputShape)
      : noData(cfg);
  const routing = new ReplicaRouting(cfg);
  const { outer } = replicas;
  const actions = replicaActions(
    sched.actions[k]!,
    cfg.replica,
    routing.count(k),
    (mb) => routing.owner(k, mb),
    !outer,
  );
  // Local SGD: each replica's chain trains on its own micro-batches as a whole mini-batch (their
  // losses weighted to its own samples), and reports its loss weighted back to the global batch.
  let data = feed;
  let lossScale = 1;
  if (outer) {
    const mine = Array.from({ length: cfg.microbatches }, (_, mb) => mb).filter(
      (mb) => routing.owner(k, mb) === cfg.replica,
    );
    lossScale = mine.reduce((a, mb) => a + feed.share(mb), 0);
    data = {
      input: (step, mb) => feed.input(step, mb),
      labels: (step, mb) => feed.labels(step, mb),
      share: (mb) => feed.share(mb) / lossScale,
    };
    await outer.sync.begin();
  }
  const runner = new ScheduleRunner(
    tf,
    s.chunks.execs,
    actions,
    s.transport,
    data,
    replicas.allReduce,
    replicas.overlap ?? false,
  );
  const last = t.firstStep + t.steps - 1;
  const checkpoints =
    s.checkpointDir && t.checkpointEvery > 0
      ? new StageCheckpoints(s.checkpointDir, cfg, s.chunks, emit)
      : null;
  for (let step = t.firstStep; step < t.firstStep + t.steps && !stopped(); step++) {
    const r = await runner.runStep(step);
    emit({
      type: 'event',
      event: 'step',
      stage: k,
      step,
      loss: r.loss === null ? null : r.loss * lossScale,
      busyMs: r.busyMs,
      commMs: r.commMs,
      totalMs: r.totalMs,
      timings: r.timings,
    });
    // The outer step every H steps, and before a validation and at the end, so both see the average.
    if (
      outer &&
      ((step + 1) % outer.every === 0 || (step + 1) % t.stepsPerEpoch === 0 || step === last)
    ) {
      const t0 = performance.now();
      await outer.sync.sync(step);
      if (k === 0 && cfg.replica === 0)
        emit({ type: 'event', event: 'outer', stage: k, step, ms: performance.now() - t0 });
    }
    if (step % 50 === 0) {
      const mem = tf.memory();
      emit({
        type: 'event',
        event: 'memory',
        stage: k,
        step,
        numTensors: mem.numTensors,
        numBytes: mem.numBytes,
      });
    }
    // The replicas hold the same weights: replica 0 of each stage validates for all of them.
    if ((step + 1) % t.stepsPerEpoch === 0 && t.valBatches > 0 && cfg.replica === 0)
      await runValidation(s, Math.floor(step / t.stepsPerEpoch), t, emit);
    if (checkpoints && rule.due(step + 1)) await checkpoints.save(step + 1);
    // Let queued events and sends leave between steps.
    await new Promise((r) => setImmediate(r));
  }
  await checkpoints?.flushed();
  emit({ type: 'event', event: 'done', stage: k, steps: t.steps });
}

function noData(cfg: Configure): StageData {
  const missing = () => {
    throw new Error(`stage ${cfg.stageIndex} has no dataset but its schedule asked for data`);
  };
  return { input: missing, labels: missing, share: () => 1 / cfg.microbatches };
}
