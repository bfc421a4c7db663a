import fs from 'node:fs';
import path from 'node:path';
import type { Coordinator } from '../coordinator/coordinator.js';
import type { ModelSpec } from '../model/spec.js';
import type { NodeRecord } from '../coordinator/nodeRecord.js';
import type { Plan } from '../planner/planSchema.js';
import { planPlacements } from '../planner/planTopology.js';
import { RUN_FILE_NAMES } from '../protocol/controlSchemas.js';
import { ControlType } from '../protocol/version.js';
import {
  RunSummarySchema,
  type RunDriver,
  type RunRecord,
  type RunSettings,
  type RunSummary,
} from './runSchemas.js';
import { parseRecord } from './runStore.js';
import { isLive } from './summarize.js';

/** How long one long poll waits for a new record on the driver. */
const POLL_WAIT_MS = 2000;
/** A driver not heard for this long while following: the reader gives up (the run may well go on). */
export const DRIVER_SILENCE_MS = 30_000;

/** A driver that does not answer for this long while a run is followed: look for who drives it now. */
const DRIVER_LOST_MS = 2000;

/** A run and the agent that drives it. */
export interface HostedRun {
  nodeId: string;
  driver: string;
  summary: RunSummary;
}

/** Whether the agent that listed this run drives it (others hold a copy: a standby, or the app's). */
export const drivenThere = (h: HostedRun) =>
  !h.summary.driver || h.summary.driver.nodeId === h.nodeId;

/** "host:port" of every node this coordinator has online: the driver reaches them the same way. */
export function onlinePeerAddresses(coordinator: Coordinator): string[] {
  return coordinator
    .nodes()
    .filter((n) => n.state === 'online')
    .map((n) => `${n.endpoint.host}:${n.endpoint.controlPort}`);
}

/**
 * Who should drive a run of this plan: the first of its machines that is online, leaving out `notOn`
 * (an agent that ends with its caller, like the app's own); null when none is.
 */
export function planDriver(
  coordinator: Coordinator,
  plan: Plan,
  notOn: string | null = null,
): NodeRecord | null {
  for (const { placement } of planPlacements(plan)) {
    if (placement.machineId === notOn) continue;
    const node = coordinator.registry.get(placement.machineId);
    if (node?.state === 'online') return node;
  }
  return null;
}

/**
 * The reader's end of runs driven by agents (`RunHost`): start one on an agent, list them, follow one's
 * records from any sequence number, stop it, and fetch its trained model.
 */
export class RunHostClient {
  constructor(private readonly coordinator: Coordinator) {}

  /** Starts a run on `nodeId`'s agent; resolves with its id once it is recorded there. */
  async start(
    nodeId: string,
    run: { plan: Plan; settings: RunSettings; model: ModelSpec },
  ): Promise<string> {
    const r = await this.coordinator.request(
      nodeId,
      ControlType.RunStart,
      { ...run, peers: onlinePeerAddresses(this.coordinator) },
      30_000,
    );
    return r.runId;
  }

  /** The runs `nodeId`'s agent drives or has driven, newest first (unreadable summaries left out). */
  async list(nodeId: string): Promise<RunSummary[]> {
    const r = await this.coordinator.request(nodeId, ControlType.RunList, {}, 5000);
    return r.runs.flatMap((v) => {
      const s = RunSummarySchema.safeParse(v);
      return s.success ? [s.data] : [];
    });
  }

  /**
   * Every run on every online agent that drives runs, newest first, and how many agents answered
   * (agents that do not drive runs, or do not answer, are skipped).
   */
  async listAll(): Promise<{ runs: HostedRun[]; agents: number }> {
    const nodes = this.coordinator.nodes().filter((n) => n.state === 'online');
    const lists = await Promise.all(
      nodes.map((n) =>
        this.list(n.id).then(
          (runs) => runs.map((summary) => ({ nodeId: n.id, driver: n.name, summary })),
          () => null,
        ),
      ),
    );
    const answered = lists.filter((l) => l !== null);
    // A run is listed once: by the agent that drives it (a live run over one that ended when its
    // driver stopped, since another took it over), else by a copy (its driver is lost).
    const rank = (h: HostedRun) => (drivenThere(h) ? 2 : 0) + (isLive(h.summary) ? 1 : 0);
    const byId = new Map<string, HostedRun>();
    for (const h of answered.flat()) {
      const seen = byId.get(h.summary.id);
      if (!seen || rank(h) > rank(seen)) byId.set(h.summary.id, h);
    }
    return {
      runs: [...byId.values()].sort((a, b) => b.summary.startedAt - a.summary.startedAt),
      agents: answered.length,
    };
  }

  /**
   * A run's records from `from` on, like `follow`, wherever it is driven: when its driver stops
   * answering, the run is looked for on the other agents (one took it over when the driver's machine
   * was lost) and followed there (`onDriver` says so). Gives up after `giveUpMs` with no driver.
   */
  async *followAnywhere(
    driver: RunDriver,
    runId: string,
    from: number,
    opts: {
      signal?: AbortSignal;
      giveUpMs?: number;
      onDriver?: (d: RunDriver) => void;
    } = {},
  ): AsyncGenerator<RunRecord> {
    let next = from;
    let lostSince = 0;
    for (;;) {
      try {
        for await (const r of this.follow(driver.nodeId, runId, next, {
          signal: opts.signal,
          silenceMs: DRIVER_LOST_MS,
        })) {
          next++;
          lostSince = 0;
          yield r;
        }
        return;
      } catch (err) {
        if (opts.signal?.aborted) return;
        lostSince ||= Date.now();
        const { runs } = await this.listAll().catch(() => ({ runs: [] as HostedRun[] }));
        const now = runs.find(
          (h) => h.summary.id === runId && h.nodeId !== driver.nodeId && drivenThere(h),
        );
        if (now) {
          driver = { nodeId: now.nodeId, name: now.driver };
          opts.onDriver?.(driver);
          continue;
        }
        if (Date.now() - lostSince > (opts.giveUpMs ?? DRIVER_SILENCE_MS)) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** The agent driving `runId` (an id, or its unique beginning), or an error that says what is known. */
  async find(runId: string): Promise<HostedRun> {
    const { runs: all, agents } = await this.listAll();
    const exact = all.filter((r) => r.summary.id === runId);
    const found = exact.length ? exact : all.filter((r) => r.summary.id.startsWith(runId));
    if (found.length === 1) return found[0]!;
    if (found.length > 1)
      throw new Error(
        `"${runId}" names ${found.length} runs: ${found.map((r) => r.summary.id).join(', ')}`,
      );
    throw new Error(
      `no agent found drives run ${runId} (${all.length} run${all.length === 1 ? '' : 's'} on ${agents} agent${agents === 1 ? '' : 's'} that answered)`,
    );
  }

  /**
   * The run's records from sequence number `from` on, as they come, until its end record; checked
   * against the run schemas (a record that is not one ends the reading with an error). A driver that
   * does not answer for `silenceMs` ends it too: the run may go on there, and can be read again.
   */
  async *follow(
    nodeId: string,
    runId: string,
    from = 0,
    opts: { signal?: AbortSignal; silenceMs?: number } = {},
  ): AsyncGenerator<RunRecord> {
    let next = from;
    let lastHeard = Date.now();
    for (;;) {
      if (opts.signal?.aborted) return;
      let reply;
      try {
        reply = await this.coordinator.request(
          nodeId,
          ControlType.RunRecords,
          { runId, from: next, waitMs: POLL_WAIT_MS },
          POLL_WAIT_MS + 5000,
        );
      } catch (err) {
        if (Date.now() - lastHeard > (opts.silenceMs ?? DRIVER_SILENCE_MS)) {
          const name = this.coordinator.registry.get(nodeId)?.name ?? nodeId;
          throw new Error(
            `lost contact with ${name}, which drives run ${runId}: ${(err as Error).message}`,
          );
        }
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      lastHeard = Date.now();
      for (const v of reply.records) {
        const record = parseRecord(v);
        if (!record || record.seq !== next)
          throw new Error(`run ${runId}: record ${next} from the driver is not a run record`);
        next++;
        yield record;
      }
      // Not live: every record there is has been sent, the end record last.
      if (!reply.live) return;
    }
  }

  /** Asks the driver to stop the run; resolves with its status then. */
  async stop(nodeId: string, runId: string): Promise<string> {
    const r = await this.coordinator.request(nodeId, ControlType.RunStop, { runId }, 30_000);
    return r.status;
  }

  /** Copies the run's trained model (model.json, weights.bin) into `dir`; returns model.json's path. */
  async fetchModel(nodeId: string, runId: string, dir: string): Promise<string> {
    fs.mkdirSync(dir, { recursive: true });
    for (const name of RUN_FILE_NAMES) {
      const bytes = await this.chunks(`${name} of run ${runId}`, (offset) =>
        this.coordinator.request(nodeId, ControlType.RunFile, { runId, name, offset }, 30_000),
      );
      const tmp = path.join(dir, `.${name}.part`);
      fs.writeFileSync(tmp, bytes);
      fs.renameSync(tmp, path.join(dir, name));
    }
    return path.join(dir, 'model.json');
  }

  /** Stage `stage`'s file of the driver's copy of the checkpoint of `step`. */
  fetchCheckpoint(nodeId: string, runId: string, stage: number, step: number): Promise<Buffer> {
    return this.chunks(`stage ${stage}'s checkpoint of step ${step}`, (offset) =>
      this.coordinator.request(
        nodeId,
        ControlType.RunCheckpoint,
        { runId, stage, step, offset },
        30_000,
      ),
    );
  }

  /** Asks `nodeId`'s agent to keep a standby copy of a run this agent (`driver`) drives. */
  async standby(nodeId: string, runId: string, driver: RunDriver): Promise<void> {
    await this.coordinator.request(
      nodeId,
      ControlType.RunStandby,
      { runId, driver, peers: onlinePeerAddresses(this.coordinator) },
      10_000,
    );
  }

  /** Asks `nodeId`'s agent, which holds a standby copy, to drive the run from its last checkpoint. */
  resume(nodeId: string, runId: string): Promise<{ runId: string; fromStep: number }> {
    return this.coordinator.request(nodeId, ControlType.RunResume, { runId }, 120_000);
  }

  /** Asks the driver to move the run onto the layout planned over the machines online now. */
  async replan(nodeId: string, runId: string): Promise<string> {
    const r = await this.coordinator.request(nodeId, ControlType.RunReplan, { runId }, 30_000);
    return r.message;
  }

  /** A file read in chunks (`read(offset)` answers one), checked for length, as one buffer. */
  private async chunks(
    what: string,
    read: (offset: number) => Promise<{ data: string; next: number | null }>,
  ): Promise<Buffer> {
    const parts: Buffer[] = [];
    let offset: number | null = 0;
    while (offset !== null) {
      const r = await read(offset);
      const chunk = Buffer.from(r.data, 'base64');
      parts.push(chunk);
      if (r.next !== null && r.next !== offset + chunk.length)
        throw new Error(`${what}: chunk at ${offset} has the wrong length`);
      offset = r.next;
    }
    return Buffer.concat(parts);
  }
}
