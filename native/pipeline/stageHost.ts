import { EventEmitter } from 'node:events';
import * as zmq from 'zeromq';
import { describeChoice, initBackend } from '../backend/initBackend.js';
import type { Dataset } from '../data/dataset.js';
import { datasetFitProblem } from '../data/datasetFit.js';
import { openDataset } from '../data/openDataset.js';
import { decodeTensor, MAX_TENSOR_BYTES } from '../protocol/tensorFrame.js';
import { ZapAuthenticator } from '../trust/zapAuthenticator.js';
import { SerialSender } from '../util/serialSender.js';
import { StageExecutor } from './stageExecutor.js';
import {
  COORDINATOR_ROUTING_ID,
  StageRequestSchema,
  stageRoutingId,
  type Configure,
  type StageEvent,
  type StageHostBoot,
} from './stageProtocol.js';
import { runTraining, type StageSetup } from './stageTraining.js';
import type { TensorKind } from './transport.js';
import { ZmqStageTransport } from './zmqTransport.js';

interface Configured extends StageSetup {
  transport: ZmqStageTransport;
  next: zmq.Dealer | null;
}

interface HostEvents {
  exit: [number];
}

/**
 * The process that hosts one pipeline stage (one per stage, so a machine can host several). It binds a
 * CURVE ROUTER that admits only the coordinator and its neighbour stages, builds its slice of the model
 * on its best backend, and runs the schedule when told to (stageTraining.ts). Tensors from its neighbours
 * land in its transport's mailbox; everything it reports goes to the coordinator.
 */
export class StageHost extends EventEmitter<HostEvents> {
  private readonly router: zmq.Router;
  private readonly sender: SerialSender;
  private backendName = '';
  private configured: Configured | null = null;
  private readonly admitted: Set<string>;
  private training: Promise<void> | null = null;
  private stopped = false;
  private errorsSent = 0;
  port = 0;

  constructor(private readonly boot: StageHostBoot) {
    super();
    this.admitted = new Set(boot.admit);
    this.router = new zmq.Router({
      curveServer: true,
      curveSecretKey: boot.secretKey,
      zapDomain: `pipefitter.stage.${boot.runId}.${boot.stageIndex}`,
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

  async start(): Promise<void> {
    const zap = await ZapAuthenticator.shared();
    zap.setPolicy(`pipefitter.stage.${this.boot.runId}.${this.boot.stageIndex}`, (key) =>
      this.admitted.has(key),
    );
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
    const k = c.cfg.stageIndex;
    // Activations come only from the previous stage; gradients arrive on our DEALER, not here.
    if (who !== stageRoutingId(k - 1)) return;
    this.accept(c, k - 1, frames, ['act', 'vact']);
  }

  /**
   * A neighbour's tensor, decoded and handed to the mailbox if it is one of `kinds` (anything else on
   * that socket is dropped). A bad tensor, one for a chunk or replica this stage does not hold, or more
   * than the schedule allows fails the run, naming the neighbour.
   */
  private accept(
    c: Configured,
    from: number,
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
    if (chunk !== 0 || replica !== 0) {
      this.fail(
        `stage ${from} sent a ${h.kind === 'grad' ? 'gradient' : 'tensor'} of chunk ${chunk}, replica ${replica}: this stage runs one chunk and one replica`,
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

  /** What may wait unclaimed: a step's activations and gradients, and a validation pass's activations. */
  private static mailboxLimit(microbatches: number, valBatches: number): number {
    return 2 * microbatches + valBatches + 8;
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
          this.connect(req.next);
          this.reply(req.id, true, {});
          break;
        case 'train':
          if (!this.configured) throw new Error('train before configure');
          if (this.training) throw new Error('already training');
          this.configured.transport.inbox.limit = StageHost.mailboxLimit(
            this.configured.cfg.microbatches,
            req.valBatches,
          );
          this.training = runTraining(
            this.configured,
            req,
            (e) => this.emitEvent(e),
            () => this.stopped,
          ).catch((err: Error) => this.fail(err.message));
          this.reply(req.id, true, {});
          break;
        case 'weights': {
          if (!this.configured) throw new Error('weights before configure');
          const w = await this.configured.exec.readWeights();
          this.reply(
            req.id,
            true,
            { names: w.map((x) => x.name), shapes: w.map((x) => x.shape) },
            w.map((x) => Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength)),
          );
          break;
        }
        case 'stop':
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
    const exec = new StageExecutor(
      choice.tf,
      cfg.model,
      { start: cfg.start, end: cfg.end },
      cfg.optimizer,
    );
    if (weightFrames.length !== cfg.weightShapes.length)
      throw new Error(
        `expected ${cfg.weightShapes.length} weight frames, got ${weightFrames.length}`,
      );
    exec.setWeights(
      weightFrames.map((f, i) => {
        const aligned = f.byteOffset % 4 === 0 ? f : Buffer.from(f);
        return {
          shape: cfg.weightShapes[i]!,
          data: new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4),
        };
      }),
    );
    for (const k of cfg.peerKeys) this.admitted.add(k);
    this.configured?.exec.dispose();
    const prev = cfg.stageIndex > 0 ? stageRoutingId(cfg.stageIndex - 1) : null;
    this.configured = {
      tf: choice.tf,
      cfg,
      exec,
      dataset,
      next: null,
      transport: new ZmqStageTransport(null, prev, (f) => this.sendRouter(f)),
    };
    this.configured.transport.inbox.limit = StageHost.mailboxLimit(cfg.microbatches, 0);
    return {
      backend: this.backendName,
      weights: exec.weightCount,
      datasetSizes: dataset ? { train: dataset.size('train'), test: dataset.size('test') } : null,
    };
  }

  /** Gradients to the previous stage go out on the shared ROUTER, in order, with backpressure. */
  private sendRouter(frames: (Buffer | string)[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sender.send(frames, reject);
      void this.sender.flushed().then(resolve);
    });
  }

  private connect(next: { host: string; port: number; publicKey: string } | null): void {
    const c = this.configured;
    if (!c) throw new Error('connect before configure');
    if (next) {
      const dealer = new zmq.Dealer({
        routingId: stageRoutingId(c.cfg.stageIndex),
        curveServerKey: next.publicKey,
        curvePublicKey: this.boot.publicKey,
        curveSecretKey: this.boot.secretKey,
        maxMessageSize: MAX_TENSOR_BYTES + 64 * 1024,
        sendHighWaterMark: 2 * c.cfg.microbatches + 4,
        receiveHighWaterMark: 2 * c.cfg.microbatches + 4,
        linger: 0,
        heartbeatInterval: 1000,
        heartbeatTimeout: 3000,
      });
      dealer.connect(`tcp://${next.host}:${next.port}`);
      c.next = dealer;
      c.transport.attachNext(dealer);
      void this.receiveGradients(dealer, c);
    }
  }

  private async receiveGradients(dealer: zmq.Dealer, c: Configured): Promise<void> {
    try {
      for await (const frames of dealer) this.accept(c, c.cfg.stageIndex + 1, frames, ['grad']);
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
    this.configured?.next?.close();
    this.router.close();
    this.emit('exit', code);
  }
}
