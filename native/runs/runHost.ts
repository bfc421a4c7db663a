import fs from 'node:fs';
import path from 'node:path';
import { ControlFailure } from '../agent/controlServer.js';
import type { RunHostPort } from '../agent/agent.js';
import { Coordinator } from '../coordinator/coordinator.js';
import { ModelSpecSchema, type ModelSpec } from '../model/spec.js';
import type { PlanInput } from '../planner/planSchema.js';
import type { RunControlRequest } from '../protocol/controlSchemas.js';
import { MAX_CONTROL_MESSAGE_BYTES } from '../protocol/limits.js';
import { ControlType, ErrorCode } from '../protocol/version.js';
import { RunService } from './runService.js';
import { RunHostClient } from './runHostClient.js';
import { RunSettingsSchema, type RunDriver, type RunRecord } from './runSchemas.js';
import { RunStandby } from './runStandby.js';
import { RunStore } from './runStore.js';
import { isLive } from './summarize.js';

/** Records per `run.records` reply, and their JSON bytes: well inside a control message. */
const MAX_RECORDS_PER_REPLY = 1000;
const MAX_RECORD_BYTES_PER_REPLY = Math.floor(MAX_CONTROL_MESSAGE_BYTES / 2);
/** Bytes of a model file per `run.file` reply (base64 makes 4/3 of it). */
export const RUN_FILE_CHUNK_BYTES = 384 * 1024;
/** Finished runs whose records stay in memory for readers (the live one always does). */
const CACHED_RUNS = 4;
/** Runs one agent keeps a standby copy of at once (each follows a driver and copies checkpoints). */
const MAX_STANDBYS = 8;
/** How long the driver waits for the run's machines to answer before its preflight judges them. */
const PEER_WAIT_MS = 5000;

export interface RunHostOptions {
  /** The agent's state dir: runs go under `<state-dir>/driver/`. */
  stateDir: string;
  token: string;
  cluster: string;
  /** The agent this host runs in (a run it takes over names it as the driver). */
  self: RunDriver;
  log?: (line: string) => void;
}

function invalid(message: string): ControlFailure {
  return new ControlFailure(ErrorCode.InvalidPayload, message);
}

/**
 * Drives runs inside an agent, so a run outlives the app or the `pipefitter train` that started it:
 * a coordinator of its own (it reaches the run's machines at the addresses the starter gives), a run
 * store under the agent's state dir, and the one RunService that records every run the same way the
 * app does. Readers follow a run by its records' sequence numbers, so whoever attaches, however late,
 * sees the whole run with no gap.
 */
export class RunHost implements RunHostPort {
  private readonly coordinator: Coordinator;
  readonly store: RunStore;
  private readonly service: RunService;
  /** Records of the runs read lately, in order; the live run's grow as it records. */
  private readonly cache = new Map<string, RunRecord[]>();
  private readonly waiters = new Set<() => void>();
  /** Runs other agents drive that this agent stands by for, by id. */
  private readonly standbys = new Map<string, RunStandby>();
  /** The agent standing by for the live run this agent drives. */
  private standbyOf: { runId: string; nodeId: string } | null = null;
  private readonly client: RunHostClient;
  private readonly standbyDir: string;

  constructor(private readonly opts: RunHostOptions) {
    const dir = path.join(opts.stateDir, 'driver');
    this.standbyDir = path.join(dir, 'standby');
    this.coordinator = new Coordinator({
      stateDir: dir,
      token: opts.token,
      cluster: opts.cluster,
      discover: false,
    });
    this.coordinator.on('log', (line) => opts.log?.(`run driver: ${line}`));
    this.store = new RunStore(
      path.join(dir, 'runs'),
      'the agent driving this run stopped while it was live',
      opts.self.nodeId,
    );
    this.service = new RunService(this.coordinator, this.store);
    this.client = new RunHostClient(this.coordinator);
    this.service.on('record', (id, record) => {
      this.onRecord(id, record);
      if (record.kind === 'event' && record.event.type === 'checkpoint')
        void this.ensureStandby(id);
    });
  }

  /** A record of a run this agent drives or stands by for: readers waiting for it wake. */
  private readonly onRecord = (id: string, record: RunRecord): void => {
    let records = this.cache.get(id);
    if (!records) {
      if (record.seq !== 0) return;
      records = [];
      this.remember(id, records);
    }
    records.push(record);
    for (const wake of [...this.waiters]) wake();
  };

  async start(): Promise<void> {
    this.store.open();
    this.service.pruneCheckpointCopies();
    // A standby's copies serve only while its run is live (a run that ended resumes at its driver).
    for (const id of fs.existsSync(this.standbyDir) ? fs.readdirSync(this.standbyDir) : []) {
      const s = this.store.get(id);
      if (!s || !isLive(s))
        fs.rmSync(path.join(this.standbyDir, id), { recursive: true, force: true });
    }
    await this.coordinator.start();
    // Runs this agent stood by for when it stopped: follow them again (their drivers may be gone),
    // without holding up the agent's start while their peers are looked up.
    for (const s of this.store.list())
      if (isLive(s) && s.driver && s.driver.nodeId !== this.opts.self.nodeId) {
        const { id, driver } = s;
        void this.addPeers(RunStandby.readPeers(path.join(this.standbyDir, id))).then(() => {
          if (!this.standbys.has(id) && this.standbys.size < MAX_STANDBYS) this.standBy(id, driver);
        });
      }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.standbys.values()].map((sb) => sb.detach()));
    this.standbys.clear();
    await this.service.close('the agent driving this run stopped');
    for (const wake of [...this.waiters]) wake();
    await this.coordinator.stop();
  }

  /** Known machines answer at once; a new address is looked up (WHOIS) and connected. */
  private async addPeers(peers: string[]): Promise<void> {
    await Promise.all(
      peers.map((peer) =>
        this.coordinator
          .addPeer(peer, { persist: false, timeoutMs: PEER_WAIT_MS })
          .catch((err: Error) => this.opts.log?.(`run driver: ${peer}: ${err.message}`)),
      ),
    );
  }

  handle(req: RunControlRequest): Promise<unknown> {
    switch (req.type) {
      case ControlType.RunStart:
        return this.startRun(req.plan, req.settings, req.model, req.peers);
      case ControlType.RunList:
        return Promise.resolve({ runs: this.store.list() });
      case ControlType.RunRecords:
        return this.records(req.runId, req.from, req.waitMs);
      case ControlType.RunStop:
        return this.stopRun(req.runId);
      case ControlType.RunFile:
        return Promise.resolve(this.fileChunk(req.runId, req.name, req.offset));
      case ControlType.RunStandby:
        return this.startStandby(req.runId, req.driver, req.peers);
      case ControlType.RunCheckpoint:
        return this.checkpointChunk(req.runId, req.stage, req.step, req.offset);
      case ControlType.RunResume:
        return this.resume(req.runId);
      case ControlType.RunReplan:
        return this.service.replan(req.runId).then(
          (message) => ({ message }),
          (err: Error) => {
            throw invalid(err.message);
          },
        );
    }
  }

  private async startStandby(
    runId: string,
    driver: RunDriver,
    peers: string[],
  ): Promise<{ accepted: true }> {
    if (driver.nodeId === this.opts.self.nodeId || this.service.liveId === runId)
      throw invalid(`this agent drives run ${runId}: it cannot stand by for it`);
    if (this.standbys.has(runId)) return { accepted: true };
    if (this.standbys.size >= MAX_STANDBYS)
      throw new ControlFailure(
        ErrorCode.Busy,
        `this agent already stands by for ${this.standbys.size} runs`,
      );
    const s = this.store.get(runId);
    if (s && !isLive(s)) throw invalid(`run ${runId} has ended here (${s.status})`);
    await this.addPeers(peers);
    RunStandby.savePeers(path.join(this.standbyDir, runId), peers);
    this.standBy(runId, driver);
    return { accepted: true };
  }

  private standBy(runId: string, driver: RunDriver): void {
    const sb = new RunStandby({
      client: this.client,
      coordinator: this.coordinator,
      store: this.store,
      runId,
      driver,
      dir: path.join(this.standbyDir, runId),
      onRecord: this.onRecord,
      onDriverLost: (why) =>
        void this.takeOver(runId, why).catch((err: Error) =>
          this.opts.log?.(`run driver: run ${runId} not taken over: ${err.message}`),
        ),
      log: (line) => this.opts.log?.(`run driver: ${line}`),
    });
    this.standbys.set(runId, sb);
    void sb.copy.ended.then(() => {
      if (this.standbys.get(runId) === sb) this.standbys.delete(runId);
    });
    this.opts.log?.(`run driver: standing by for run ${runId}, driven by ${driver.name}`);
  }

  /**
   * Asks one of the live run's other machines to stand by for it (the first that accepts, in stage
   * order), unless the one that does is still online. Called as the run starts and at checkpoints.
   */
  private async ensureStandby(runId: string): Promise<void> {
    if (this.service.liveId !== runId) return;
    const now = this.standbyOf;
    if (now?.runId === runId && this.coordinator.registry.get(now.nodeId)?.state === 'online')
      return;
    this.standbyOf = null;
    const self = this.opts.self.nodeId;
    // The run's machines as it trains now, in stage order: the standby is one of them.
    const candidates = this.service
      .liveMachineIds()
      .filter((id) => id !== self && this.coordinator.registry.get(id)?.state === 'online');
    for (const id of [...new Set(candidates)]) {
      try {
        await this.client.standby(id, runId, this.opts.self);
        this.standbyOf = { runId, nodeId: id };
        return;
      } catch (err) {
        this.opts.log?.(
          `run driver: ${id} does not stand by for ${runId}: ${(err as Error).message}`,
        );
      }
    }
  }

  /**
   * Drives a run this agent stood by for: its driver is lost. The run resumes from the newest
   * checkpoint copied here, re-planned without the driver's machine; one with no copy ends, saying so.
   */
  private async takeOver(runId: string, why: string): Promise<{ runId: string; fromStep: number }> {
    const sb = this.standbys.get(runId);
    if (!sb) throw invalid(`this agent holds no standby copy of run ${runId}`);
    if (this.service.liveId)
      throw new ControlFailure(
        ErrorCode.Busy,
        `run ${this.service.liveId} is live on this agent: run ${runId} cannot go on here`,
      );
    this.standbys.delete(runId);
    await sb.detach();
    const records = this.store.read(runId);
    const meta = records[0];
    if (records.some((r) => r.kind === 'end')) throw invalid(`run ${runId} has ended`);
    let state = null;
    try {
      if (meta?.kind === 'meta') state = sb.copies.newestState(meta.settings.optimizer);
    } catch (err) {
      state = null;
      why += `; the checkpoint copy cannot be read: ${(err as Error).message}`;
    }
    if (!state) {
      const message = `${why}; not resumed: no checkpoint of it was copied here`;
      const recorder = this.store.reopen(runId, (r) => this.onRecord(runId, r));
      recorder.append({ kind: 'event', event: { type: 'failed', message } });
      recorder.append({ kind: 'end', status: 'failed', message });
      recorder.close();
      throw invalid(message);
    }
    this.opts.log?.(`run driver: taking run ${runId} over from step ${state.step}: ${why}`);
    await this.service.takeOver(runId, {
      state,
      reason: `${why}; ${this.opts.self.name} drives it now`,
      driver: this.opts.self,
      lost: sb.driver,
    });
    void this.ensureStandby(runId);
    return { runId, fromStep: state.step };
  }

  /**
   * `pipefitter run resume`: take over a run whose driver is lost, now; or go on with a run this
   * agent drove that failed or was interrupted.
   */
  private async resume(runId: string): Promise<{ runId: string; fromStep: number }> {
    if (this.service.liveId === runId) throw invalid(`run ${runId} is live on this agent`);
    const sb = this.standbys.get(runId);
    if (!sb) {
      const s = this.store.get(runId);
      if (!s || (s.driver && s.driver.nodeId !== this.opts.self.nodeId))
        throw invalid(`this agent neither drove run ${runId} nor holds a standby copy of it`);
      if (this.service.liveId)
        throw new ControlFailure(
          ErrorCode.Busy,
          `run ${this.service.liveId} is live on this agent`,
        );
      try {
        const { fromStep } = await this.service.resumeEnded(runId);
        void this.ensureStandby(runId);
        return { runId, fromStep };
      } catch (err) {
        throw invalid((err as Error).message);
      }
    }
    const answers = await this.coordinator
      .request(sb.driver.nodeId, ControlType.Ping, { sentAt: Date.now() }, 1500)
      .then(
        () => true,
        () => false,
      );
    if (answers)
      throw invalid(`${sb.driver.name} drives run ${runId} and answers: it needs no resume`);
    return this.takeOver(runId, `${sb.driver.name}, which drove the run, does not answer`);
  }

  private async checkpointChunk(
    runId: string,
    stage: number,
    step: number,
    offset: number,
  ): Promise<{ data: string; total: number; next: number | null }> {
    const file =
      (await this.service.checkpointCopy(runId, stage, step)) ??
      (await this.standbys.get(runId)?.copies.file(stage, step)) ??
      null;
    if (!file)
      throw invalid(`no copy of stage ${stage}'s checkpoint of step ${step} of run ${runId}`);
    return readChunk(file, offset, `stage ${stage}'s checkpoint of step ${step}`);
  }

  private async startRun(
    plan: unknown,
    settings: unknown,
    model: unknown,
    peers: string[],
  ): Promise<{ runId: string }> {
    const s = RunSettingsSchema.safeParse(settings);
    if (!s.success) throw invalid(`the run settings are invalid: ${s.error.message}`);
    let spec: ModelSpec | undefined;
    if (model !== undefined && model !== null) {
      const m = ModelSpecSchema.safeParse(model);
      if (!m.success) throw invalid(`the model is invalid: ${m.error.message}`);
      spec = m.data;
    }
    if (this.service.liveId)
      throw new ControlFailure(
        ErrorCode.Busy,
        `run ${this.service.liveId} is still running on this agent: stop it first`,
      );
    await this.addPeers(peers);
    try {
      const { summary } = await this.service.launch(plan as PlanInput, s.data, { model: spec });
      void this.ensureStandby(summary.id);
      return { runId: summary.id };
    } catch (err) {
      throw invalid((err as Error).message);
    }
  }

  private async stopRun(runId: string): Promise<{ status: string }> {
    if (this.service.liveId !== runId) {
      const s = this.store.get(runId);
      if (!s) throw invalid(`no run ${runId} on this agent`);
      return { status: s.status };
    }
    const s = await this.service.stop(runId);
    return { status: s.status };
  }

  private remember(id: string, records: RunRecord[]): void {
    this.cache.set(id, records);
    for (const old of this.cache.keys()) {
      if (this.cache.size <= CACHED_RUNS) break;
      if (old !== this.service.liveId && old !== id) this.cache.delete(old);
    }
  }

  private recordsOf(runId: string): RunRecord[] {
    const cached = this.cache.get(runId);
    if (cached) return cached;
    if (!this.store.get(runId)) throw invalid(`no run ${runId} on this agent`);
    const records = this.store.read(runId);
    this.remember(runId, records);
    return records;
  }

  private live(runId: string): boolean {
    const s = this.store.get(runId);
    return s !== undefined && isLive(s);
  }

  private async records(
    runId: string,
    from: number,
    waitMs: number,
  ): Promise<{ records: RunRecord[]; next: number; live: boolean }> {
    let all = this.recordsOf(runId);
    if (from >= all.length && waitMs > 0 && this.live(runId)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve();
        };
        const check = () => {
          if ((this.cache.get(runId)?.length ?? 0) > from || !this.live(runId)) done();
        };
        const timer = setTimeout(done, waitMs);
        this.waiters.add(check);
      });
      all = this.recordsOf(runId);
    }
    const out: RunRecord[] = [];
    let bytes = 0;
    for (let i = from; i < all.length && out.length < MAX_RECORDS_PER_REPLY; i++) {
      const size = JSON.stringify(all[i]).length;
      if (out.length > 0 && bytes + size > MAX_RECORD_BYTES_PER_REPLY) break;
      out.push(all[i]!);
      bytes += size;
    }
    const next = from + out.length;
    return { records: out, next, live: this.live(runId) || next < all.length };
  }

  private fileChunk(
    runId: string,
    name: 'model.json' | 'weights.bin',
    offset: number,
  ): { data: string; total: number; next: number | null } {
    const model = this.recordsOf(runId).find((r) => r.kind === 'model');
    if (!model) throw invalid(`run ${runId} has no trained model (yet)`);
    return readChunk(path.join(path.dirname(model.path), name), offset, `${name} of run ${runId}`);
  }
}

/** Up to RUN_FILE_CHUNK_BYTES of `file` from `offset`, base64, with where the next chunk starts. */
function readChunk(
  file: string,
  offset: number,
  what: string,
): { data: string; total: number; next: number | null } {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw invalid(`cannot read ${what}: ${(err as Error).message}`);
  }
  try {
    const total = fs.fstatSync(fd).size;
    if (offset > total) throw invalid(`offset ${offset} is past the end of ${what} (${total})`);
    const buf = Buffer.alloc(Math.min(RUN_FILE_CHUNK_BYTES, total - offset));
    const n = fs.readSync(fd, buf, 0, buf.length, offset);
    const end = offset + n;
    return { data: buf.subarray(0, n).toString('base64'), total, next: end < total ? end : null };
  } finally {
    fs.closeSync(fd);
  }
}
