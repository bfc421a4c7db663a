import path from 'node:path';
import { Coordinator } from '../coordinator/coordinator.js';
import type { Plan } from '../planner/planSchema.js';
import { planDriver } from '../runs/runHostClient.js';
import { RunService } from '../runs/runService.js';
import { RunStore } from '../runs/runStore.js';
import { clusterBackend } from './clusterBackend.js';
import { runBackend } from './runBackend.js';
import { LocalAgent } from './localAgent.js';
import { ApiServer, combineBackends } from './server.js';
import { SettingsStore } from './settingsStore.js';

export interface EngineOptions {
  stateDir: string;
  token: string;
  cluster?: string;
  beaconPort?: number;
  peers?: string[];
  /** Overrides the saved setting for this run only (`--no-local-agent`). */
  localAgent?: boolean;
  /** Interface for the embedded agent (default all; tests and sandboxes pass "lo"). */
  agentInterface?: string;
  /** Control port for the embedded agent (default 47801; 0 picks free ports). */
  agentPort?: number;
  /** How to run `pipefitter` for the embedded agent (Electron: its own binary with ELECTRON_RUN_AS_NODE). */
  agentCommand?: [string, string[]];
  agentEnv?: NodeJS.ProcessEnv;
  onLog?: (line: string) => void;
}

/**
 * Everything a host (Electron main, `pipefitter web`) runs behind the API: coordinator, embedded agent,
 * settings, and the API server that validates every call. Hosts only move envelopes to and from it.
 */
export class Engine {
  readonly coordinator: Coordinator;
  readonly localAgent: LocalAgent;
  readonly settings: SettingsStore;
  readonly api: ApiServer;
  readonly runs: RunService;

  constructor(private readonly opts: EngineOptions) {
    this.coordinator = new Coordinator({
      stateDir: opts.stateDir,
      token: opts.token,
      cluster: opts.cluster,
      beaconPort: opts.beaconPort,
      peers: opts.peers,
    });
    this.settings = new SettingsStore(
      opts.stateDir,
      opts.localAgent === undefined ? {} : { localAgent: opts.localAgent },
    );
    this.localAgent = new LocalAgent({
      stateDir: opts.stateDir,
      token: opts.token,
      cluster: opts.cluster,
      beaconPort: opts.beaconPort,
      interface: opts.agentInterface,
      port: opts.agentPort,
      command: opts.agentCommand,
      env: opts.agentEnv,
    });
    const log = opts.onLog ?? (() => {});
    this.coordinator.on('log', log);
    this.localAgent.on('log', log);
    const runStore = new RunStore(path.join(opts.stateDir, 'runs'));
    // Runs left live by a crash are marked interrupted before anyone can list them.
    runStore.open();
    this.runs = new RunService(this.coordinator, runStore, {
      driverFor: (plan) => this.driverFor(plan),
      log,
    });
    this.runs.pruneCheckpointCopies();
    const cluster = clusterBackend({
      coordinator: this.coordinator,
      token: opts.token,
      beaconPort: opts.beaconPort,
      localAgent: this.localAgent,
      settings: this.settings,
      plansDir: path.join(opts.stateDir, 'plans'),
    });
    const runs = runBackend(this.runs);
    this.api = new ApiServer(
      combineBackends({ ...cluster.handlers, ...runs.handlers }, cluster, runs),
      { onLog: log },
    );
  }

  /**
   * Who drives a run of this plan: its first machine whose agent is not this app's own (that one
   * ends with the app), so the run goes on when the app closes; null when every stage is on ours.
   */
  private driverFor(plan: Plan): { id: string; name: string } | null {
    return planDriver(this.coordinator, plan, this.localAgent.status.nodeId);
  }

  async start(): Promise<void> {
    await this.coordinator.start();
    // A run an agent drove on while the app was closed: our copy catches up and follows it.
    this.runs.reattach();
    if (this.settings.get().localAgent) this.localAgent.start();
  }

  async stop(): Promise<void> {
    // A live run this process drives is stopped on its machines, not left training for nobody; one
    // an agent drives goes on, and the next start follows it again.
    await this.runs.close('the app was closed');
    this.api.close();
    await Promise.all([this.localAgent.stop(), this.coordinator.stop()]);
  }
}
