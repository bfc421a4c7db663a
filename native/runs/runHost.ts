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
import { RunSettingsSchema, type RunRecord } from './runSchemas.js';
import { RunStore } from './runStore.js';
import { isLive } from './summarize.js';

/** Records per `run.records` reply, and their JSON bytes: well inside a control message. */
const MAX_RECORDS_PER_REPLY = 1000;
const MAX_RECORD_BYTES_PER_REPLY = Math.floor(MAX_CONTROL_MESSAGE_BYTES / 2);
/** Bytes of a model file per `run.file` reply (base64 makes 4/3 of it). */
export const RUN_FILE_CHUNK_BYTES = 384 * 1024;
/** Finished runs whose records stay in memory for readers (the live one always does). */
const CACHED_RUNS = 4;
/** How long the driver waits for the run's machines to answer before its preflight judges them. */
const PEER_WAIT_MS = 5000;

export interface RunHostOptions {
  /** The agent's state dir: runs go under `<state-dir>/driver/`. */
  stateDir: string;
  token: string;
  cluster: string;
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

  constructor(private readonly opts: RunHostOptions) {
    const dir = path.join(opts.stateDir, 'driver');
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
    );
    this.service = new RunService(this.coordinator, this.store);
    this.service.on('record', (id, record) => {
      let records = this.cache.get(id);
      if (!records) {
        if (record.seq !== 0) return;
        records = [];
        this.remember(id, records);
      }
      records.push(record);
      for (const wake of [...this.waiters]) wake();
    });
  }

  async start(): Promise<void> {
    this.store.open();
    await this.coordinator.start();
  }

  async stop(): Promise<void> {
    await this.service.close('the agent driving this run stopped');
    for (const wake of [...this.waiters]) wake();
    await this.coordinator.stop();
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
    }
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
    // Known machines answer at once; a new address is looked up (WHOIS) and connected.
    await Promise.all(
      peers.map((peer) =>
        this.coordinator
          .addPeer(peer, { persist: false, timeoutMs: PEER_WAIT_MS })
          .catch((err: Error) => this.opts.log?.(`run driver: ${peer}: ${err.message}`)),
      ),
    );
    try {
      const { summary } = await this.service.launch(plan as PlanInput, s.data, { model: spec });
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
    const file = path.join(path.dirname(model.path), name);
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (err) {
      throw invalid(`cannot read ${name} of run ${runId}: ${(err as Error).message}`);
    }
    try {
      const total = fs.fstatSync(fd).size;
      if (offset > total) throw invalid(`offset ${offset} is past the end of ${name} (${total})`);
      const buf = Buffer.alloc(Math.min(RUN_FILE_CHUNK_BYTES, total - offset));
      const n = fs.readSync(fd, buf, 0, buf.length, offset);
      const end = offset + n;
      return { data: buf.subarray(0, n).toString('base64'), total, next: end < total ? end : null };
    } finally {
      fs.closeSync(fd);
    }
  }
}
