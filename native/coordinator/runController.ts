import { EventEmitter } from 'node:events';
import type { Tf } from '../backend/tfTypes.js';
import type { RunEvent } from '../common/runEvents.js';
import type { NamedWeight } from '../pipeline/stageExecutor.js';
import { chunkSlices, type StageEvent } from '../pipeline/stageProtocol.js';
import type { Coordinator } from './coordinator.js';
import { preflightRun } from './runPreflight.js';
import { replicaCount, workersOf, type RunSpec, type StageWorker } from './runSpec.js';
import type { StageLink } from './stageLink.js';
import {
  askStageEnd,
  configureStages,
  connectNeighbours,
  openLinks,
  spawnStages,
  stopStages,
} from './stageWiring.js';
import { CheckpointCollector } from './checkpointCollector.js';
import { checkpointInterval } from './checkpointInterval.js';
import { StepAggregator } from './stepAggregator.js';
import { gatherWeights } from './weightGathering.js';

export type { RunSpec, RunStagePlacement } from './runSpec.js';
export { describeStageEnd } from './stageWiring.js';
/** A run's events are defined once, in common/runEvents.ts (the run file's schema is the same one). */
export type { RunEvent };

interface RunEvents {
  event: [RunEvent];
}

/**
 * One training run, from the coordinator's side: it composes the preflight (`runPreflight.ts`), the
 * stages' spawning and wiring (`stageWiring.ts`), the step aggregation (`stepAggregator.ts`) and the
 * weight gathering (`weightGathering.ts`), and turns the stages' events into run events. If a machine
 * or a stage fails, the run stops everywhere within seconds with a message naming the machine and
 * the stage.
 */
export class RunController extends EventEmitter<RunEvents> {
  /** One link per process, in `workers` order. */
  private links: StageLink[] = [];
  private readonly workers: StageWorker[];
  private failure: Error | null = null;
  private finished = false;
  private steps: StepAggregator | null = null;
  private totalSteps = 0;
  private doneStages = 0;
  private readonly checkpoints: CheckpointCollector;
  /** When the latest steps completed (for the step time a checkpoint interval in seconds needs). */
  private readonly stepTimes: { step: number; at: number }[] = [];
  private checkpointsTuned = false;
  private settle: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private readonly onRegistry: (c: {
    kind: string;
    node?: { id: string; state: string; name: string };
  }) => void;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly tf: Tf,
    readonly spec: RunSpec,
  ) {
    super();
    this.workers = workersOf(spec.stages);
    this.checkpoints = new CheckpointCollector(spec.stages.length);
    this.onRegistry = (c) => {
      if (c.kind !== 'state' || !c.node || c.node.state === 'online') return;
      const w = this.workers.find((x) => x.nodeId === c.node!.id);
      if (w) void this.fail(`${this.where(w)}: the machine became ${c.node.state}`);
    };
  }

  private machine(nodeId: string): string {
    const n = this.coordinator.registry.get(nodeId);
    return n ? `${n.name} (${n.endpoint.host})` : nodeId;
  }

  /** "stage k on name (host)", or "stage k replica r on …" for a stage of several. */
  private readonly where = (w: StageWorker): string =>
    `stage ${w.stage}${replicaCount(this.spec.stages[w.stage]!) > 1 ? ` replica ${w.replica}` : ''} on ${this.machine(w.nodeId)}`;

  /** Replica 0 of each stage: it keeps the checkpoints and answers for the stage's weights. */
  private primaryLinks(): StageLink[] {
    return this.spec.stages.map(
      (_, k) => this.links[this.workers.findIndex((w) => w.stage === k)]!,
    );
  }

  private emitEvent(e: RunEvent): void {
    this.emit('event', e);
  }

  /** Starts the run; resolves once every stage is training. Use `finished()` to wait for the end. */
  async start(): Promise<void> {
    const { spec, coordinator } = this;
    preflightRun(coordinator.registry, spec);
    coordinator.registry.on('change', this.onRegistry);
    try {
      const spawned = await spawnStages(coordinator, spec, this.where);
      this.links = openLinks(coordinator, spec, spawned, {
        event: (e, w) => this.onStageEvent(e, w),
        lost: (w, why) => void this.stageLost(w, why),
      });
      const configured = await configureStages(coordinator, this.tf, spec, this.links, this.where);
      await connectNeighbours(coordinator, spec, this.links, spawned, configured);
      const sizes = configured[0]!.datasetSizes!;
      const stepsPerEpoch = Math.floor(sizes.train / spec.batch);
      if (stepsPerEpoch < 1)
        throw new Error(
          `the dataset has ${sizes.train} training samples, fewer than one batch of ${spec.batch}`,
        );
      this.totalSteps = spec.steps ?? stepsPerEpoch * (spec.epochs ?? 1);
      const valBatch = Math.min(spec.valBatch ?? 1000, sizes.test);
      const valBatches = valBatch > 0 ? Math.floor(sizes.test / valBatch) : 0;
      this.emitEvent({
        type: 'started',
        runId: spec.runId,
        totalSteps: this.totalSteps,
        stepsPerEpoch,
        stages: this.workers.map((w, i) => {
          const s = spec.stages[w.stage]!;
          return {
            index: w.stage,
            ...(replicaCount(s) > 1 ? { replica: w.replica } : {}),
            node: this.machine(w.nodeId),
            host: coordinator.registry.get(w.nodeId)!.endpoint.host,
            backend: configured[i]!.backend,
            layers: [s.start, s.end] as [number, number],
            ...(chunkSlices(s).length > 1
              ? { chunks: chunkSlices(s).map((c) => [c.start, c.end] as [number, number]) }
              : {}),
            pid: spawned[i]!.pid,
          };
        }),
      });
      this.steps = new StepAggregator(
        this.workers.length,
        spec.stages.length,
        spec.batch,
        stepsPerEpoch,
      );
      this.steps.start();
      const firstStep = spec.resume?.step ?? spec.resumeState?.step ?? 0;
      if (firstStep >= this.totalSteps)
        throw new Error(`the checkpoint is of step ${firstStep}; the run has ${this.totalSteps}`);
      await Promise.all(
        this.links.map((l) =>
          l.request({
            type: 'train',
            firstStep,
            steps: this.totalSteps - firstStep,
            stepsPerEpoch,
            valBatches,
            valBatch,
            checkpointEvery: spec.checkpointEvery ?? 0,
          }),
        ),
      );
    } catch (err) {
      await this.fail((err as Error).message);
      throw this.failure ?? err;
    }
  }

  /** A stage's connection dropped: its agent says how the process ended (a signal, an exit code). */
  private async stageLost(w: StageWorker, why: string): Promise<void> {
    if (this.failure || this.finished) return;
    const reason = (await askStageEnd(this.coordinator, this.spec, w)) ?? why;
    void this.fail(`${this.where(w)}: ${reason}`);
  }

  private onStageEvent(e: StageEvent, w: StageWorker): void {
    if (this.finished) return;
    switch (e.event) {
      case 'error':
        void this.fail(`${this.where(w)}: ${e.message}`);
        return;
      case 'log':
        this.emitEvent({ type: 'log', stage: w.stage, message: `${this.where(w)}: ${e.message}` });
        return;
      case 'memory':
        this.emitEvent({
          type: 'memory',
          stage: e.stage,
          step: e.step,
          numTensors: e.numTensors,
          numBytes: e.numBytes,
        });
        return;
      case 'validation':
        this.emitEvent({
          type: 'validation',
          epoch: e.epoch,
          loss: e.loss,
          accuracy: e.accuracy,
          samples: e.samples,
        });
        return;
      case 'outer':
        this.emitEvent({ type: 'outer', step: e.step, ms: e.ms });
        return;
      case 'done':
        if (++this.doneStages === this.workers.length) this.complete();
        return;
      case 'checkpoint': {
        const c = this.checkpoints.add(e);
        if (c) {
          this.emitEvent({ type: 'checkpoint', ...c });
          void this.tuneCheckpoints(c.copyMs);
        }
        return;
      }
      case 'step': {
        const step = this.steps?.add(e, w.replica);
        if (step) {
          this.stepTimes.push({ step: step.step, at: performance.now() });
          if (this.stepTimes.length > 64) this.stepTimes.shift();
          this.emitEvent(step);
        }
      }
    }
  }

  /**
   * After the first complete checkpoint: the interval the run asked for in seconds (or Young's), in
   * steps of the step time measured so far, from a step every stage has still ahead of it.
   */
  private async tuneCheckpoints(saveMs: number): Promise<void> {
    const target = this.spec.checkpointSeconds;
    if (target === undefined || this.checkpointsTuned || this.stepTimes.length < 2) return;
    this.checkpointsTuned = true;
    const first = this.stepTimes[0]!;
    const last = this.stepTimes.at(-1)!;
    const stepMs = (last.at - first.at) / Math.max(1, last.step - first.step);
    const machines = new Set(this.workers.map((w) => w.nodeId)).size;
    const c = checkpointInterval(target, saveMs, stepMs, machines);
    // Stages run at most a step or two apart; this margin leaves each of them time to hear it.
    const from = last.step + 1 + Math.max(8, 2 * this.workers.length);
    try {
      await Promise.all(
        this.links.map((l) => l.request({ type: 'checkpointEvery', every: c.every, from })),
      );
      this.emitEvent({
        type: 'log',
        message: `checkpoints every ${c.every} steps counted from step ${from} (${c.seconds.toFixed(1)} s at ${stepMs.toFixed(1)} ms a step; ${c.why}; a save stalls ${saveMs.toFixed(1)} ms, ${(c.share * 100).toFixed(2)}% of the time between checkpoints)`,
      });
    } catch (err) {
      this.emitEvent({
        type: 'log',
        message: `the checkpoint interval stays ${this.spec.checkpointEvery} steps: ${(err as Error).message}`,
      });
    }
  }

  /** The bytes of stage k's checkpoint of `step`, from its machine (for the driver's copy). */
  async fetchCheckpointFile(k: number, step: number): Promise<Buffer> {
    const link = this.primaryLinks()[k];
    if (!link) throw new Error(`stage ${k} is not connected`);
    const { frames } = await link.request({ type: 'checkpointFile', step }, [], 120_000);
    if (frames.length !== 1) throw new Error(`stage ${k} sent ${frames.length} frames for a file`);
    return Buffer.from(frames[0]!);
  }

  /** Gathers every stage's current weights, in model order. */
  gatherWeights(): Promise<NamedWeight[]> {
    return gatherWeights(this.primaryLinks());
  }

  private complete(): void {
    this.emitEvent({
      type: 'done',
      steps: this.totalSteps,
      elapsedMs: this.steps?.elapsedMs() ?? 0,
    });
    this.finished = true;
    this.settle?.resolve();
  }

  /** Resolves when every stage has finished its steps; rejects with the failure otherwise. */
  finishedPromise(): Promise<void> {
    if (this.finished) return Promise.resolve();
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.settle = { resolve, reject }));
  }

  async fail(message: string): Promise<void> {
    if (this.failure || this.finished) return;
    this.failure = new Error(message);
    this.emitEvent({ type: 'failed', message });
    this.settle?.reject(this.failure);
    this.shutDown ??= this.shutdown();
    await this.shutDown;
  }

  private shutDown: Promise<void> | null = null;

  /** Resolves once a failed run's stages are all stopped (at once if it has not failed). */
  stoppedAfterFailure(): Promise<void> {
    return this.shutDown ?? Promise.resolve();
  }

  /** Stops every stage host of the run (on its machine's agent) and closes the links. */
  async shutdown(): Promise<void> {
    this.coordinator.registry.off('change', this.onRegistry);
    await stopStages(this.coordinator, this.spec, this.links);
  }
}
