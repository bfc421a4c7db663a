import { EventEmitter } from 'node:events';
import type { Tf } from '../backend/tfTypes.js';
import type { RunEvent } from '../common/runEvents.js';
import type { BackendPreference, ScheduleKind } from '../common/schemas.js';
import { checkDatasetFits } from '../data/datasetFit.js';
import { buildModel } from '../model/build.js';
import { checkLossFits } from '../model/losses.js';
import type { ModelSpec } from '../model/spec.js';
import type { OptimizerSpec } from '../pipeline/optimizer.js';
import type { NamedWeight } from '../pipeline/stageExecutor.js';
import type { StageEvent } from '../pipeline/stageProtocol.js';
import type { ResultTypes } from '../protocol/controlSchemas.js';
import { ControlType } from '../protocol/version.js';
import type { Coordinator } from './coordinator.js';
import { StageLink } from './stageLink.js';

export interface RunStagePlacement {
  /** Layers [start, end). */
  start: number;
  end: number;
  nodeId: string;
  gpu?: number;
}

export interface RunSpec {
  runId: string;
  model: ModelSpec;
  dataset: string;
  stages: RunStagePlacement[];
  schedule: ScheduleKind;
  microbatches: number;
  batch: number;
  optimizer: OptimizerSpec;
  /** Train this many epochs, or `steps` steps (steps wins when both are given). */
  epochs?: number;
  steps?: number;
  /** Seeds the sampler's shuffles (the model's own seed sets the initial weights). */
  seed: number;
  backend?: BackendPreference;
  /** Test samples per validation batch (default 1000). */
  valBatch?: number;
}

/** Words for how a stage's process ended, or null while it runs (or its agent does not know it). */
export function describeStageEnd(s: ResultTypes[ControlType.StageStatus]): string | null {
  if (s.state !== 'exited') return null;
  if (s.signal)
    return `the stage process was killed by ${s.signal}${s.signal === 'SIGKILL' ? " (a user's kill -9, or the kernel's out-of-memory killer)" : ''}`;
  return `the stage process exited with code ${s.code ?? '?'}${s.lastError ? `: ${s.lastError}` : ''}`;
}

/** A run's events are defined once, in common/runEvents.ts (the run file's schema is the same one). */
export type { RunEvent };

interface RunEvents {
  event: [RunEvent];
}

/**
 * One training run, from the coordinator's side: initialise the model from its seed once, start a
 * stage host per stage on its machine, send each its layers and initial weights, wire neighbours,
 * start the schedule, and turn the stages' events into run events. If a machine or a stage fails, the
 * run stops everywhere within seconds with a message naming the machine and the stage.
 */
export class RunController extends EventEmitter<RunEvents> {
  private links: StageLink[] = [];
  private failure: Error | null = null;
  private finished = false;
  private readonly stepReports = new Map<number, Extract<StageEvent, { event: 'step' }>[]>();
  private lastStepAt = 0;
  private startedAt = 0;
  private totalSteps = 0;
  private stepsPerEpoch = 0;
  private doneStages = 0;
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
    this.onRegistry = (c) => {
      if (c.kind !== 'state' || !c.node || c.node.state === 'online') return;
      const k = spec.stages.findIndex((s) => s.nodeId === c.node!.id);
      if (k >= 0)
        void this.fail(`stage ${k} on ${this.machine(k)}: the machine became ${c.node.state}`);
    };
  }

  private machine(k: number): string {
    const id = this.spec.stages[k]!.nodeId;
    const n = this.coordinator.registry.get(id);
    return n ? `${n.name} (${n.endpoint.host})` : id;
  }

  private emitEvent(e: RunEvent): void {
    this.emit('event', e);
  }

  /**
   * Checks what can be checked before anything starts: the loss fits the model's output, the dataset
   * fits the model (as far as this machine can see it), machines online, contiguous layers.
   */
  private preflight(): void {
    const { stages, model } = this.spec;
    checkLossFits(model);
    checkDatasetFits(model, this.spec.dataset);
    if (stages.length === 0) throw new Error('the plan has no stages');
    stages.forEach((s, k) => {
      const expectStart = k === 0 ? 0 : stages[k - 1]!.end;
      if (s.start !== expectStart || s.end <= s.start)
        throw new Error(
          `stage ${k} covers layers [${s.start}, ${s.end}), expected to start at ${expectStart}`,
        );
      const n = this.coordinator.registry.get(s.nodeId);
      if (!n)
        throw new Error(
          `stage ${k} is placed on machine ${s.nodeId}, which this coordinator has not found`,
        );
      if (n.state !== 'online')
        throw new Error(
          `stage ${k} is placed on ${n.name}, which is ${n.state}${n.stateReason ? ` (${n.stateReason})` : ''}`,
        );
    });
    if (stages.at(-1)!.end !== model.layers.length)
      throw new Error(
        `the stages cover ${stages.at(-1)!.end} of the model's ${model.layers.length} layers`,
      );
  }

  /** Starts the run; resolves once every stage is training. Use `finished()` to wait for the end. */
  async start(): Promise<void> {
    this.preflight();
    const { spec, tf } = this;
    this.coordinator.registry.on('change', this.onRegistry);
    // The whole model is initialised once, here, from its seed; each stage gets its slice's weights.
    const full = buildModel(tf, spec.model);
    const all = full.getWeights();
    const perLayer = spec.model.layers.map((_, i) => full.layers[i]!.weights.length);
    const keys = this.coordinator.clientKeyPair;
    try {
      const spawned = await Promise.all(
        spec.stages.map((s, k) =>
          this.coordinator
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
              throw new Error(`stage ${k} on ${this.machine(k)} could not start: ${err.message}`);
            }),
        ),
      );
      this.links = spec.stages.map((s, k) => {
        const node = this.coordinator.registry.get(s.nodeId)!;
        const link = new StageLink(
          node.endpoint.host,
          spawned[k]!.port,
          node.endpoint.publicKey,
          keys,
        );
        link.on('event', (e) => this.onStageEvent(e));
        link.on('lost', (why) => void this.stageLost(k, why));
        return link;
      });
      let offset = 0;
      const configured = await Promise.all(
        spec.stages.map((s, k) => {
          const count = perLayer.slice(s.start, s.end).reduce((a, b) => a + b, 0);
          const mine = all.slice(offset, offset + count);
          offset += count;
          const isEdge = k === 0 || k === spec.stages.length - 1;
          const peers = [spec.stages[k - 1], spec.stages[k + 1]]
            .filter((p): p is RunStagePlacement => !!p)
            .map((p) => this.coordinator.registry.get(p.nodeId)!.endpoint.publicKey);
          return this.links[k]!.request(
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
              weightShapes: mine.map((w) => w.shape),
              peerKeys: peers,
            },
            mine.map((w) => {
              const d = w.dataSync() as Float32Array;
              return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
            }),
            120_000,
          )
            .then(
              (r) =>
                r.result as {
                  backend: string;
                  datasetSizes: { train: number; test: number } | null;
                },
            )
            .catch((err: Error) => {
              throw new Error(`stage ${k} on ${this.machine(k)}: ${err.message}`);
            });
        }),
      );
      // getWeights() hands out the variables themselves: disposing the model frees them.
      full.dispose();
      await Promise.all(
        spec.stages.map((_, k) => {
          const next = spec.stages[k + 1];
          const peer = next
            ? {
                host: this.coordinator.registry.get(next.nodeId)!.endpoint.host,
                port: spawned[k + 1]!.port,
                publicKey: this.coordinator.registry.get(next.nodeId)!.endpoint.publicKey,
              }
            : null;
          return this.links[k]!.request({ type: 'connect', next: peer });
        }),
      );
      const sizes = configured[0]!.datasetSizes!;
      this.stepsPerEpoch = Math.floor(sizes.train / spec.batch);
      if (this.stepsPerEpoch < 1)
        throw new Error(
          `the dataset has ${sizes.train} training samples, fewer than one batch of ${spec.batch}`,
        );
      this.totalSteps = spec.steps ?? this.stepsPerEpoch * (spec.epochs ?? 1);
      const valBatch = Math.min(spec.valBatch ?? 1000, sizes.test);
      const valBatches = valBatch > 0 ? Math.floor(sizes.test / valBatch) : 0;
      this.emitEvent({
        type: 'started',
        runId: spec.runId,
        totalSteps: this.totalSteps,
        stepsPerEpoch: this.stepsPerEpoch,
        stages: spec.stages.map((s, k) => ({
          index: k,
          node: this.machine(k),
          host: this.coordinator.registry.get(s.nodeId)!.endpoint.host,
          backend: configured[k]!.backend,
          layers: [s.start, s.end] as [number, number],
          pid: spawned[k]!.pid,
        })),
      });
      this.startedAt = performance.now();
      this.lastStepAt = this.startedAt;
      await Promise.all(
        this.links.map((l) =>
          l.request({
            type: 'train',
            firstStep: 0,
            steps: this.totalSteps,
            stepsPerEpoch: this.stepsPerEpoch,
            valBatches,
            valBatch,
          }),
        ),
      );
    } catch (err) {
      await this.fail((err as Error).message);
      throw this.failure ?? err;
    }
  }

  /** A stage's connection dropped: its agent says how the process ended (a signal, an exit code). */
  private async stageLost(k: number, why: string): Promise<void> {
    if (this.failure || this.finished) return;
    let reason = why;
    try {
      const status = await this.coordinator.request(
        this.spec.stages[k]!.nodeId,
        ControlType.StageStatus,
        { runId: this.spec.runId, stageIndex: k, waitMs: 1000 },
        2000,
      );
      reason = describeStageEnd(status) ?? why;
    } catch {
      // The agent does not answer either (it died with its stages): the connection's loss says it.
    }
    void this.fail(`stage ${k} on ${this.machine(k)}: ${reason}`);
  }

  private onStageEvent(e: StageEvent): void {
    if (this.finished) return;
    switch (e.event) {
      case 'error':
        void this.fail(`stage ${e.stage} on ${this.machine(e.stage)}: ${e.message}`);
        return;
      case 'log':
        this.emitEvent({
          type: 'log',
          stage: e.stage,
          message: `stage ${e.stage} on ${this.machine(e.stage)}: ${e.message}`,
        });
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
      case 'done':
        if (++this.doneStages === this.spec.stages.length) void this.complete();
        return;
      case 'step': {
        const list = this.stepReports.get(e.step) ?? [];
        list.push(e);
        this.stepReports.set(e.step, list);
        if (list.length < this.spec.stages.length) return;
        this.stepReports.delete(e.step);
        const now = performance.now();
        const dt = now - this.lastStepAt;
        this.lastStepAt = now;
        list.sort((a, b) => a.stage - b.stage);
        this.emitEvent({
          type: 'step',
          step: e.step,
          epoch: Math.floor(e.step / this.stepsPerEpoch),
          loss: list.at(-1)!.loss ?? NaN,
          samplesPerSecond: dt > 0 ? (this.spec.batch * 1000) / dt : 0,
          elapsedMs: now - this.startedAt,
          stages: list.map((r) => ({
            index: r.stage,
            busyMs: r.busyMs,
            commMs: r.commMs,
            totalMs: r.totalMs,
          })),
          timings: list.flatMap((r) => r.timings.map((t) => ({ stage: r.stage, ...t }))),
        });
      }
    }
  }

  /** Gathers every stage's current weights, in model order. */
  async gatherWeights(): Promise<NamedWeight[]> {
    const parts = await Promise.all(
      this.links.map(async (l) => {
        const { result, frames } = await l.request({ type: 'weights' }, [], 60_000);
        const r = result as { names: string[]; shapes: number[][] };
        return frames.map((f, i) => {
          const copy = Buffer.from(f);
          return {
            name: r.names[i]!,
            shape: r.shapes[i]!,
            data: new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4),
          };
        });
      }),
    );
    return parts.flat();
  }

  private async complete(): Promise<void> {
    this.emitEvent({
      type: 'done',
      steps: this.totalSteps,
      elapsedMs: performance.now() - this.startedAt,
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
    await this.shutdown();
  }

  /** Stops every stage host of the run (on its machine's agent) and closes the links. */
  async shutdown(): Promise<void> {
    this.coordinator.registry.off('change', this.onRegistry);
    for (const l of this.links) l.removeAllListeners('lost');
    await Promise.all(this.links.map((l) => l.request({ type: 'stop' }, [], 2000).catch(() => {})));
    this.links.forEach((l) => l.close());
    await Promise.all(
      [...new Set(this.spec.stages.map((s) => s.nodeId))].map((id) =>
        this.coordinator
          .request(id, ControlType.StageStop, { runId: this.spec.runId }, 5000)
          .catch(() => {}),
      ),
    );
  }
}
