import fs from 'node:fs';
import path from 'node:path';
import type { Coordinator } from '../coordinator/coordinator.js';
import { DEFAULT_ON_FAILURE } from '../common/defaults.js';
import { CheckpointCopies } from './checkpointCopies.js';
import { DrivenRunCopy } from './drivenRunCopy.js';
import type { RunHostClient } from './runHostClient.js';
import type { RunDriver, RunRecord, RunSummary } from './runSchemas.js';
import type { RunStore } from './runStore.js';

/**
 * How long the driver's machine must stay out of reach (after the coordinator marks it so) before a
 * standby takes the run over: a blip is not a loss.
 */
const DRIVER_LOST_MS = 1000;
const WATCH_EVERY_MS = 250;
/** The file beside a standby's checkpoint copies that says how to reach the run's agents again. */
const PEERS_FILE = 'peers.json';

export interface RunStandbyOptions {
  client: RunHostClient;
  coordinator: Coordinator;
  store: RunStore;
  runId: string;
  /** The agent that drives the run. */
  driver: RunDriver;
  /** Where this standby keeps its checkpoint copies (and the peers it was given). */
  dir: string;
  /** What a standby's record list hears (the run host's readers). */
  onRecord: (id: string, r: RunRecord, s: RunSummary) => void;
  /** The driver is lost and the run resumes on a lost stage: take it over (the run host does). */
  onDriverLost: (why: string) => void;
  log: (line: string) => void;
}

/**
 * A standby for a run another agent drives: a copy of the run's records (same seq and time, as the
 * app keeps one) and of each checkpoint the driver copied, so the run can go on from here when the
 * driver's machine is lost. It watches the driver: once the coordinator has it out of reach for a
 * moment, and the run resumes on losses (`--on-failure resume`), it asks to take the run over.
 */
export class RunStandby {
  readonly copies: CheckpointCopies;
  readonly copy: DrivenRunCopy;
  private readonly timer: NodeJS.Timeout;
  private lostSince = 0;
  private asked = false;
  /** What the run does on a loss (its settings), read once when first needed. */
  private onFailure: string | null = null;

  constructor(private readonly o: RunStandbyOptions) {
    this.copies = new CheckpointCopies(o.dir);
    const known = o.store.get(o.runId) !== undefined;
    // A restarted standby: the copies it made before are still good if they match the records.
    if (known) this.copies.adoptRecorded(o.store.read(o.runId));
    const onRecord = (r: RunRecord, s: RunSummary) => o.onRecord(o.runId, r, s);
    const recorder = known ? o.store.reopen(o.runId, onRecord) : o.store.create(o.runId, onRecord);
    this.copy = new DrivenRunCopy(o.client, o.driver, recorder, o.log, {
      onRecord: (r) => this.onRecord(r),
    });
    this.timer = setInterval(() => this.watch(), WATCH_EVERY_MS);
    void this.copy.ended.then(() => {
      clearInterval(this.timer);
      const s = o.store.get(o.runId);
      // A run that ended at its driver needs no resume from here.
      if (s && (s.status === 'completed' || s.status === 'stopped')) this.copies.clear();
    });
  }

  /** Keeps the addresses of the run's agents, so a restarted standby reaches them again. */
  static savePeers(dir: string, peers: string[]): void {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, PEERS_FILE), JSON.stringify({ peers }) + '\n');
  }

  static readPeers(dir: string): string[] {
    try {
      const v = JSON.parse(fs.readFileSync(path.join(dir, PEERS_FILE), 'utf8')) as {
        peers?: unknown;
      };
      return Array.isArray(v.peers) ? v.peers.filter((p) => typeof p === 'string') : [];
    } catch {
      return [];
    }
  }

  get driver(): RunDriver {
    return this.copy.driver;
  }

  /** Stops copying and watching (the run host takes the run over, or stops); the files stay. */
  async detach(): Promise<void> {
    clearInterval(this.timer);
    this.copy.detach();
    await Promise.race([this.copy.ended, new Promise((r) => setTimeout(r, 5000))]);
  }

  private onRecord(r: RunRecord): void {
    if (r.kind !== 'event' || r.event.type !== 'checkpoint') return;
    const { runId, driver, client } = this.o;
    void this.copies.copy(
      { step: r.event.step, stages: r.event.stages },
      (k, step) => client.fetchCheckpoint(driver.nodeId, runId, k, step),
      (message) => this.o.log(`standby for run ${runId}: ${message}`),
    );
  }

  private watch(): void {
    const n = this.o.coordinator.registry.get(this.driver.nodeId);
    if (n?.state === 'online') {
      this.lostSince = 0;
      return;
    }
    const s = this.o.store.get(this.o.runId);
    if (!s || s.status === 'starting' || this.asked) return;
    this.lostSince ||= Date.now();
    if (Date.now() - this.lostSince < DRIVER_LOST_MS) return;
    if (this.onFailure === null) {
      const meta = this.o.store.read(this.o.runId)[0];
      this.onFailure =
        (meta?.kind === 'meta' ? meta.settings.onFailure : undefined) ?? DEFAULT_ON_FAILURE;
    }
    if (this.onFailure !== 'resume') return;
    this.asked = true;
    this.o.onDriverLost(
      `${this.driver.name}, which drove the run, was lost (${n?.stateReason ?? 'it does not answer'})`,
    );
  }
}
