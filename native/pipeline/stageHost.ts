import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import * as zmq from 'zeromq';
import { describeChoice, initBackend } from '../backend/initBackend.js';
import { isGpuBackend } from '../common/names.js';
import type { Dataset } from '../data/dataset.js';
import { datasetFitProblem } from '../data/datasetFit.js';
import { openDataset } from '../data/openDataset.js';
import { decodeTensor, MAX_TENSOR_BYTES } from '../protocol/tensorFrame.js';
import { ZapAuthenticator } from '../trust/zapAuthenticator.js';
import { SerialSender } from '../util/serialSender.js';
import {
  CheckpointError,
  checkpointPath,
  checkpointSteps,
  readCheckpoint,
} from './checkpointFile.js';
import { StageChunks } from './stageChunks.js';
import { StageExecutor } from './stageExecutor.js';
import { neighbourStage } from '../planner/schedule.js';
import { ReplicaRouting } from './replicaRouting.js';
import { ringAllReduce } from './ringAllReduce.js';
import {
  chunkSlices,
  COORDINATOR_ROUTING_ID,
  parseStageRoutingId,
  StageRequestSchema,
  stageRoutingId,
  type Configure,
  type Peer,
  type StageEvent,
  type StageHostBoot,
} from './stageProtocol.js';
import { runTraining, type ReplicaSync, type StageSetup } from './stageTraining.js';
import { OuterStep } from './localSgd.js';
import { CheckpointRule } from './checkpointRule.js';
import type { TensorKind } from './transport.js';
import { ZmqRingLink } from './zmqRingLink.js';
import { ZmqStageTransport } from './zmqTransport.js';

interface Configured extends StageSetup {
  transport: ZmqStageTransport;
  /** DEALERs to the next stage's replicas, in replica order. */
  next: zmq.Dealer[];
  routing: ReplicaRouting;
  /** This stage's all-reduce ring between its replicas; null for a stage of one. */
  ring: ZmqRingLink | null;
}

interface HostEvents {
  exit: [number];
}

/**
 * The process that hosts one pipeline stage, or one replica of it (one process each, so a machine can
 * host several). It binds a CURVE ROUTER that admits only the coordinator and its neighbour stages,
 * builds its slice of the model on its best backend, and runs the schedule when told to
 * (stageTraining.ts). Tensors from its neighbours land in its transport's mailbox; a stage of several
 * replicas also binds a ring socket for their all-reduce; everything it reports goes to the coordinator.
 */
export class StageHost extends EventEmitter<HostEvents> {
  private readonly router: zmq.Router;
  private readonly sender: SerialSender;
  private backendName = '';
  private configured: Configured | null = null;
  private readonly admitted: Set<string>;
  private training: Promise<void> | null = null;
  /** When this stage saves checkpoints (the driver may change it mid-run). */
  private checkpointRule: CheckpointRule | null = null;
  private trainedAll = false;
  private stopped = false;
  private errorsSent = 0;
  port = 0;

  constructor(private readonly boot: StageHostBoot) {
    super();
    this.admitted = new Set(boot.admit);
    this.router = new zmq.Router({
      curveServer: true,
      curveSecretKey: boot.secretKey,
      zapDomain: this.zapDomain(),
      maxMessageSize: MAX_TENSOR_BYTES + 64 * 1024,
      linger: 0,
      sendHighWaterMark: 64,
      receiveHighWaterMark: 64,
      // Block (backpressure) rather than silently drop a gradient when the peer's queue is full.
      mandatory: true,
      heartbeatInterval: 1000,
      heartbeatTimeout: 3000,
    });
    this.sender = new SerialSender(this.router, 100_000);
  }

  private zapDomain(suffix = ''): string {
    const b = this.boot;
    return `pipefitter.stage.${b.runId}.${b.stageIndex}.${b.replica}${suffix}`;
  }

  async start(): Promise<void> {
    const zap = await ZapAuthenticator.shared();
    zap.setPolicy(this.zapDomain(), (key) => this.admitted.has(key));
    zap.setPolicy(this.zapDomain('.ring'), (key) => this.admitted.has(key));
    await this.router.bind(`tcp://${this.boot.bindHost}:*`);
    const last = this.router.lastEndpoint ?? '';
    this.port = Number(last.slice(last.lastIndexOf(':') + 1));
    void this.serve();
  }

  private emitEvent(e: StageEvent): void {
    this.sender.send([COORDINATOR_ROUTING_ID, JSON.stringify(e)]);
  }

  private reply(id: string, ok: boolean, body: unknown, extra: Buffer[] = []): void {
    const msg = ok
      ? { type: 'reply', id, ok, result: body }
      : { type: 'reply', id, ok, error: body };
    this.sender.send([COORDINATOR_ROUTING_ID, JSON.stringify(msg), ...extra]);
  }

  private async serve(): Promise<void> {
    try {
      for await (const [from, ...frames] of this.router) {
        const who = from?.toString() ?? '';
        if (who === COORDINATOR_ROUTING_ID) await this.onControl(frames);
        else this.onData(who, frames);
      }
    } catch (err) {
      if (!this.stopped) throw err;
    }
  }

  private onData(who: string, frames: Buffer[]): void {
    const c = this.configured;
    if (!c) return;
    const prev = StageHost.previousStage(c);
    // Activations come only from the previous stage's replicas; gradients arrive on our DEALERs.
    const from = parseStageRoutingId(who);
    if (!from || prev === null || from.stage !== prev || from.replica >= c.routing.count(prev))
      return;
    this.accept(c, prev, from.replica, frames, ['act', 'vact']);
  }

  /** The stage whose activations this one takes (round the ends where stages hold chunks). */
  private static previousStage(c: Configured): number | null {
    return neighbourStage('previous', c.cfg.stageIndex, c.cfg.stages, c.chunks.execs.length);
  }

  /** The stage this one sends its activations to. */
  private static nextStage(c: Configured): number | null {
    return neighbourStage('next', c.cfg.stageIndex, c.cfg.stages, c.chunks.execs.length);
  }

  /**
   * A neighbour's tensor, decoded and handed to the mailbox if it is one of `kinds` (anything else on
   * that socket is dropped). A bad tensor, one for a chunk or replica this stage does not hold, or more
   * than the schedule allows fails the run, naming the neighbour.
   */
  private accept(
    c: Configured,
    from: number,
    fromReplica: number,
    frames: Buffer[],
    kinds: readonly TensorKind[],
  ): void {
    const d = decodeTensor(frames);
    if (!d.ok) {
      this.fail(`stage ${from} sent a bad tensor: ${d.reason}`);
      return;
    }
    const h = d.tensor.header;
    if (!kinds.includes(h.kind)) return;
    const chunk = h.chunk ?? 0;
    const replica = h.replica ?? 0;
    const v = c.chunks.execs.length;
    // Round the ends a tensor moves to the next chunk (activations) or back to the one before.
    const wraps = h.kind === 'grad' ? from <= c.cfg.stageIndex : from >= c.cfg.stageIndex;
    const lowest = wraps && h.kind !== 'grad' ? 1 : 0;
    const highest = wraps && h.kind === 'grad' ? v - 2 : v - 1;
    if (chunk < lowest || chunk > highest || replica !== fromReplica) {
      this.fail(
        `stage ${from} replica ${fromReplica} sent a ${h.kind === 'grad' ? 'gradient' : 'tensor'} marked chunk ${chunk}, replica ${replica}: from there this stage takes chunks ${lowest}–${highest}, and a replica speaks for itself`,
      );
      return;
    }
    const kept = c.transport.inbox.deliver(
      h.kind,
      h.step,
      h.mb,
      { shape: h.shape, dtype: h.dtype, data: d.tensor.data },
      chunk,
    );
    if (!kept) this.overflow(from);
  }

  private overflow(from: number): void {
    this.fail(
      `stage ${from} sent more tensors than the schedule allows (${this.configured?.transport.inbox.pending} unclaimed)`,
    );
  }

  /**
   * What may wait unclaimed: a step's activations and gradients, and a validation pass's activations,
   * for each chunk the stage holds.
   */
  private static mailboxLimit(microbatches: number, valBatches: number, chunks: number): number {
    return chunks * (2 * microbatches + valBatches) + 8;
  }

  private async onControl(frames: Buffer[]): Promise<void> {
    const [head, ...rest] = frames;
    let req;
    try {
      req = StageRequestSchema.parse(JSON.parse(head?.toString('utf8') ?? ''));
    } catch (err) {
      this.reply('?', false, `invalid stage request: ${(err as Error).message.slice(0, 300)}`);
      return;
    }
    try {
      switch (req.type) {
        case 'configure':
          this.reply(req.id, true, await this.configure(req, rest));
          break;
        case 'connect':
          this.connect(req.next, req.ring);
          this.reply(req.id, true, {});
          break;
        case 'train':
          if (!this.configured) throw new Error('train before configure');
          if (this.training) throw new Error('already training');
          this.configured.transport.inbox.limit = StageHost.mailboxLimit(
            this.configured.cfg.microbatches,
            req.valBatches,
            this.configured.chunks.execs.length,
          );
          this.checkpointRule = new CheckpointRule(
            this.configured.checkpointDir ? req.checkpointEvery : 0,
          );
          this.training = runTraining(
            this.configured,
            req,
            (e) => this.emitEvent(e),
            () => this.stopped,
            this.checkpointRule,
            this.replicaSyncOf(this.configured),
          )
            .then(() => {
              this.trainedAll = !this.stopped;
            })
            .catch((err: Error) => this.fail(err.message));
          this.reply(req.id, true, {});
          break;
        case 'weights': {
          if (!this.configured) throw new Error('weights before configure');
          const w = await this.configured.chunks.readWeights();
          this.reply(
            req.id,
            true,
            {
              names: w.map((x) => x.name),
              shapes: w.map((x) => x.shape),
              // Where each chunk's weights begin: the coordinator puts chunks in model order.
              chunkWeights: this.configured.chunks.layout.map((l) => l.weights),
            },
            w.map((x) => Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength)),
          );
          break;
        }
        case 'checkpointFile': {
          const dir = this.configured?.checkpointDir;
          if (!dir) throw new Error('this stage keeps no checkpoints');
          const bytes = await fs.promises.readFile(
            checkpointPath(dir, this.configured!.cfg.stageIndex, req.step),
          );
          this.reply(req.id, true, { bytes: bytes.length }, [bytes]);
          break;
        }
        case 'checkpointEvery':
          if (!this.checkpointRule) throw new Error('checkpointEvery before train');
          this.checkpointRule.change(req.every, req.from);
          this.reply(req.id, true, {});
          break;
        case 'stop':
          // A run that trained every step needs its checkpoints no more: the model is gathered.
          if (this.trainedAll) this.removeCheckpoints();
          this.reply(req.id, true, {});
          await this.sender.flushed();
          await this.stop(0);
          break;
      }
    } catch (err) {
      this.reply(req.id, false, (err as Error).message);
    }
  }

  private async configure(cfg: Configure, weightFrames: Buffer[]) {
    const choice = await initBackend({
      prefer: this.boot.backend,
      ...(this.boot.backendWhy === undefined ? {} : { measuredWhy: this.boot.backendWhy }),
    });
    this.backendName = choice.name;
    for (const line of describeChoice(choice)) this.log(cfg.stageIndex, line);
    let dataset: Dataset | null = null;
    if (cfg.dataset !== null) {
      dataset = openDataset(cfg.dataset, cfg.model);
      // The coordinator checked what it could see; only this machine has its own copy of the data.
      const problem = datasetFitProblem(cfg.model, dataset);
      if (problem) throw new Error(problem);
    }
    const slices = chunkSlices(cfg);
    if (slices[0]!.start !== cfg.start || slices[0]!.end !== cfg.end)
      throw new Error(
        `chunk 0 holds layers ${slices[0]!.start}–${slices[0]!.end}, the stage says ${cfg.start}–${cfg.end}`,
      );
    if (slices.length > 1 && cfg.stages < 2)
      throw new Error('a stage of several chunks needs a pipeline of at least 2 stages');
    const chunks = new StageChunks(
      slices.map((sl) => new StageExecutor(choice.tf, cfg.model, sl, cfg.optimizer)),
      cfg.optimizer.name,
    );
    const exec = chunks.execs[0]!;
    if (cfg.replica !== this.boot.replica)
      throw new Error(
        `this process is replica ${this.boot.replica} of its stage, configured as replica ${cfg.replica}`,
      );
    const routing = new ReplicaRouting(cfg);
    if (
      slices.length > 1 &&
      Array.from({ length: cfg.stages }, (_, j) => routing.count(j)).some((n) => n > 1)
    )
      throw new Error(
        'interleaved schedules with replicas are not built: a stage holds several chunks or several replicas, not both',
      );
    if (cfg.replica >= routing.count(cfg.stageIndex))
      throw new Error(
        `replica ${cfg.replica} of a stage of ${routing.count(cfg.stageIndex)} replicas`,
      );
    if (cfg.resume && cfg.replica > 0)
      throw new Error('only replica 0 of a stage keeps checkpoints: the others start from weights');
    // The replicas hold the same weights after every step: replica 0's checkpoints are the stage's.
    const checkpointDir = cfg.replica === 0 ? this.checkpointDirFor(cfg.runId) : null;
    try {
      if (cfg.resume) await this.restoreFrom(cfg, chunks, checkpointDir);
      else {
        const stateShapes = cfg.optimizerStateShapes ?? [];
        if (weightFrames.length !== cfg.weightShapes.length + stateShapes.length)
          throw new Error(
            `expected ${cfg.weightShapes.length + stateShapes.length} weight and state frames, got ${weightFrames.length}`,
          );
        const shapes = [...cfg.weightShapes, ...stateShapes];
        const arrays = weightFrames.map((f, i) => {
          const aligned = f.byteOffset % 4 === 0 ? f : Buffer.from(f);
          return {
            shape: shapes[i]!,
            data: new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4),
          };
        });
        chunks.setWeights(arrays.slice(0, cfg.weightShapes.length));
        if (stateShapes.length > 0)
          await chunks.restoreOptimizerState(
            arrays.slice(cfg.weightShapes.length).map((a, i) => ({ name: `state/${i}`, ...a })),
          );
      }
    } catch (err) {
      chunks.dispose();
      throw err;
    }
    for (const k of cfg.peerKeys) this.admitted.add(k);
    this.configured?.chunks.dispose();
    this.configured?.ring?.close();
    const k = cfg.stageIndex;
    const ring =
      routing.count(k) > 1
        ? await ZmqRingLink.open({
            host: this.boot.bindHost,
            keys: { publicKey: this.boot.publicKey, secretKey: this.boot.secretKey },
            zapDomain: this.zapDomain('.ring'),
            maxSegmentBytes: Math.max(
              1024,
              Math.ceil(exec.weightCount / routing.count(k)) * 4 + 64,
            ),
          })
        : null;
    this.configured = {
      tf: choice.tf,
      cfg,
      exec,
      chunks,
      dataset,
      checkpointDir,
      next: [],
      routing,
      ring,
      transport: new ZmqStageTransport(
        {
          replica: cfg.replica,
          stage: k,
          stages: cfg.stages,
          chunks: slices.length,
          nextOwner: (mb) => routing.owner(k + 1, mb),
          previous: (mb) => {
            const prev = neighbourStage('previous', k, cfg.stages, slices.length);
            return prev === null ? null : stageRoutingId(prev, routing.owner(prev, mb));
          },
        },
        (f) => this.sendRouter(f),
      ),
    };
    this.configured.transport.inbox.limit = StageHost.mailboxLimit(
      cfg.microbatches,
      0,
      slices.length,
    );
    return {
      backend: this.backendName,
      weights: exec.weightCount,
      datasetSizes: dataset ? { train: dataset.size('train'), test: dataset.size('test') } : null,
      ringPort: ring ? Number(ring.endpoint.slice(ring.endpoint.lastIndexOf(':') + 1)) : null,
    };
  }

  /**
   * How a stage of several replicas keeps them together over its ring: ALLREDUCE of the gradients
   * every step (tagged by step), or local SGD's outer step every few steps.
   */
  private replicaSyncOf(c: Configured): ReplicaSync {
    const ring = c.ring;
    if (!ring) return { allReduce: null, outer: null };
    const size = c.routing.count(c.cfg.stageIndex);
    const sync = c.cfg.sync;
    if (sync.kind === 'local')
      return {
        allReduce: null,
        outer: {
          sync: new OuterStep(c.exec, ring, c.cfg.replica, size, {
            lr: sync.outerLr,
            momentum: sync.outerMomentum,
          }),
          every: sync.every,
        },
      };
    return {
      allReduce: (flat, tag) => ringAllReduce(flat, c.cfg.replica, size, ring, tag),
      overlap: isGpuBackend(this.backendName),
      outer: null,
    };
  }

  /** This run's checkpoint folder on this machine, or null where the agent gave none. */
  private checkpointDirFor(runId: string): string | null {
    if (!this.boot.checkpointDir) return null;
    // The run id names a folder: nothing in it may climb out of the agent's checkpoint folder.
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(runId) || runId.startsWith('.'))
      throw new Error(
        `run id ${JSON.stringify(runId.slice(0, 80))} cannot name a checkpoint folder`,
      );
    return path.join(this.boot.checkpointDir, runId);
  }

  private removeCheckpoints(): void {
    const c = this.configured;
    if (!c?.checkpointDir) return;
    const k = c.cfg.stageIndex;
    try {
      for (const s of checkpointSteps(c.checkpointDir, k))
        fs.rmSync(checkpointPath(c.checkpointDir, k, s), { force: true });
      // The folder goes with the last stage's files (another stage of the run may share it).
      fs.rmdirSync(c.checkpointDir);
    } catch {
      // Missing, or another stage's files still there: nothing to do.
    }
  }

  /** Weights and optimizer state from this stage's own checkpoint, checked against the run's record. */
  private async restoreFrom(cfg: Configure, exec: StageChunks, dir: string | null): Promise<void> {
    const r = cfg.resume!;
    if (!dir) throw new Error('asked to resume, but this agent keeps no checkpoints');
    const file = path.resolve(dir, r.file);
    if (path.dirname(file) !== path.resolve(dir))
      throw new Error(`checkpoint ${r.file} is not in this run's checkpoint folder`);
    const state = readCheckpoint(file, r.sha256);
    if (state.stage !== cfg.stageIndex || state.step !== r.step || state.runId !== cfg.runId)
      throw new CheckpointError(
        `checkpoint ${path.basename(file)} is of ${state.runId} stage ${state.stage} step ${state.step}, not stage ${cfg.stageIndex} step ${r.step}`,
      );
    exec.setWeights(state.weights);
    await exec.restoreOptimizerState(state.optimizerState);
    this.log(cfg.stageIndex, `resumed from its checkpoint of step ${state.step}`);
  }

  /** Gradients to the previous stage go out on the shared ROUTER, in order, with backpressure. */
  private sendRouter(frames: (Buffer | string)[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sender.send(frames, reject);
      void this.sender.flushed().then(resolve);
    });
  }

  private connect(next: Peer[], ring: Peer | null): void {
    const c = this.configured;
    if (!c) throw new Error('connect before configure');
    const k = c.cfg.stageIndex;
    const n = StageHost.nextStage(c);
    const want = n === null ? 0 : c.routing.count(n);
    if (next.length !== want)
      throw new Error(`told of ${next.length} next replicas; stage ${n ?? k + 1} has ${want}`);
    if (!ring !== !c.ring)
      throw new Error('a ring peer for a stage without a ring, or none for one');
    if (ring && c.ring)
      c.ring.connectNext(`tcp://${ring.host}:${ring.port}`, ring.publicKey, {
        publicKey: this.boot.publicKey,
        secretKey: this.boot.secretKey,
      });
    c.next = next.map((peer, r) => {
      const dealer = new zmq.Dealer({
        routingId: stageRoutingId(k, c.cfg.replica),
        curveServerKey: peer.publicKey,
        curvePublicKey: this.boot.publicKey,
        curveSecretKey: this.boot.secretKey,
        maxMessageSize: MAX_TENSOR_BYTES + 64 * 1024,
        sendHighWaterMark: 2 * c.cfg.microbatches + 4,
        receiveHighWaterMark: 2 * c.cfg.microbatches + 4,
        linger: 0,
        heartbeatInterval: 1000,
        heartbeatTimeout: 3000,
      });
      dealer.connect(`tcp://${peer.host}:${peer.port}`);
      void this.receiveGradients(dealer, c, r);
      return dealer;
    });
    c.transport.attachNext(c.next);
  }

  private async receiveGradients(
    dealer: zmq.Dealer,
    c: Configured,
    replica: number,
  ): Promise<void> {
    try {
      for await (const frames of dealer)
        this.accept(c, StageHost.nextStage(c)!, replica, frames, ['grad']);
    } catch {
      // closed at stop
    }
  }

  private log(stage: number, message: string): void {
    this.emitEvent({ type: 'event', event: 'log', stage, message });
  }

  private fail(message: string): void {
    // The coordinator ends the run at the first error: a flood of them (a neighbour sending garbage
    // at full speed) would only fill the send queue.
    if (++this.errorsSent > 16) return;
    const k = this.configured?.cfg.stageIndex ?? this.boot.stageIndex;
    this.emitEvent({ type: 'event', event: 'error', stage: k, message });
  }

  async stop(code: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.configured?.transport.inbox.fail(new Error('stage stopped'));
    for (const d of this.configured?.next ?? []) d.close();
    this.configured?.ring?.close();
    this.router.close();
    this.emit('exit', code);
  }
}
