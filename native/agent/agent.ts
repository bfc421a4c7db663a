import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { probeBackendsIsolated, measureSpeedIsolated } from '../backend/backendWorker.js';
import { bestBackend } from '../backend/probe.js';
import { chooseByMeasurement, speedsCover } from '../backend/backendChoice.js';
import { isGpuBackend } from '../common/names.js';
import { BackendNameSchema } from '../common/schemas.js';
import { BACKEND_ENV } from '../backend/initBackend.js';
import { BeaconSender } from '../discovery/beaconSender.js';
import { encodeBeacon } from '../discovery/beacon.js';
import { WhoisResponder } from '../discovery/whois.js';
import { DEFAULT_BEACON_PORT } from '../discovery/beacon.js';
import { broadcastTargets } from '../discovery/interfaces.js';
import { CpuLoadMeter } from '../inventory/cpuLoad.js';
import { NvidiaSmiStream } from '../inventory/nvidiaSmi.js';
import { readStaticInventory } from '../inventory/staticInventory.js';
import type {
  BackendReport,
  Inventory,
  SpeedReport,
  StaticInventory,
  TelemetrySample,
} from '../protocol/inventorySchemas.js';
import {
  isRunControlRequest,
  type ControlRequest,
  type HelloResult,
  type LinkMeasurement,
  type LinkPeer,
  type RunControlRequest,
} from '../protocol/controlSchemas.js';
import {
  Capability,
  ControlType,
  ErrorCode,
  PROTOCOL_VERSION,
  TelemetryTopic,
} from '../protocol/version.js';
import { loadOrCreateKeyPair, type CurveKeyPair } from '../trust/keyPair.js';
import { beaconKey, labKeyPair } from '../trust/token.js';
import { TrustedKeys } from '../trust/trustedKeys.js';
import { ZapAuthenticator } from '../trust/zapAuthenticator.js';
import { readJsonFile, writeFileAtomic } from '../util/fsAtomic.js';
import { ControlFailure, ControlServer } from './controlServer.js';
import { sweepStaleCheckpoints } from '../pipeline/checkpointSweep.js';
import { loadOrCreateNodeId } from './stateDir.js';
import { TelemetryPublisher } from './telemetryPublisher.js';
import { StageProcesses } from './stageProcesses.js';
import { measureLinkTo } from './linkProbe.js';
import { AGENT_VERSION } from '../version.js';

export const DEFAULT_CONTROL_PORT = 47801;

/** Binds a socket, turning "address in use" into what to do about it. */
async function bindOrExplain(
  socket: { bind(endpoint: string): Promise<number> },
  host: string,
  port: number,
  what: string,
  option: string,
): Promise<number> {
  try {
    return await socket.bind(`tcp://${host}:${port === 0 ? '*' : port}`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(
        `the ${what} port ${port} on ${host} is in use (another agent on this machine?): choose another with ${option}, or ${option} 0 for a free one`,
      );
    }
    throw err;
  }
}
export const DEFAULT_CLUSTER = 'default';

export interface AgentOptions {
  stateDir: string;
  token: string;
  name?: string;
  /** Control port; telemetry is port+1 unless set. 0 picks free ports. */
  port?: number;
  telemetryPort?: number;
  /** Interface name or address to bind and announce on; default all interfaces. */
  interface?: string;
  /** Address to announce instead of the interface's own (NAT, several addresses). */
  advertise?: string;
  cluster?: string;
  beaconPort?: number;
  /** Extra addresses to send beacons to by unicast (a coordinator across a router). */
  beaconTargets?: string[];
  /** Measure speed automatically when none is cached (default true). */
  autoBenchmark?: boolean;
  nvidiaSmi?: string;
  telemetryIntervalMs?: number;
}

/**
 * What drives runs inside this agent, given by whoever starts it (the run driver lives in a layer
 * above the agent's): the agent hands it the run requests and stops it before itself.
 */
export interface RunHostPort {
  handle(request: RunControlRequest): Promise<unknown>;
  stop(): Promise<void>;
}

interface AgentEvents {
  log: [string];
  backends: [BackendReport[]];
}

/**
 * The lab daemon: answers control requests, publishes telemetry, announces itself. Heavy work (backend
 * probes, speed benchmarks) runs in child processes so the agent stays small and always responsive.
 */
export class Agent extends EventEmitter<AgentEvents> {
  readonly nodeId: string;
  readonly name: string;
  readonly cluster: string;
  readonly keys: CurveKeyPair;
  private readonly agentDir: string;
  private readonly trusted: TrustedKeys;
  private readonly labPublicKey: string;
  private control: ControlServer | null = null;
  private telemetry: TelemetryPublisher | null = null;
  private beacon: BeaconSender | null = null;
  private whois: WhoisResponder | null = null;
  private nvidia: NvidiaSmiStream | null = null;
  private telemetryTimer: NodeJS.Timeout | null = null;
  private readonly cpu = new CpuLoadMeter();
  private seq = 0;
  private inventoryRevision = 0;
  private staticInventory: Promise<StaticInventory> | null = null;
  private backends: BackendReport[] | null = null;
  private backendsPromise: Promise<BackendReport[]> | null = null;
  private speed: SpeedReport | null = null;
  /** Every working backend's measured speed (GPU backends once per GPU). */
  private speeds: SpeedReport[] = [];
  private speedRun: Promise<SpeedReport> | null = null;
  controlPort = 0;
  telemetryPort = 0;
  private zap: ZapAuthenticator | null = null;
  private readonly stages = new StageProcesses();
  private bindAddress = '0.0.0.0';
  private runHost: RunHostPort | null = null;
  /** Told in hello, so a coordinator knows a restart (and its links measured before it are stale). */
  private readonly startedAt = Date.now();
  /** A measurement under way: one at a time, so they do not measure each other (and sockets stay few). */
  private linkMeasuring: string | null = null;

  constructor(private readonly opts: AgentOptions) {
    super();
    this.agentDir = path.join(opts.stateDir, 'agent');
    fs.mkdirSync(this.agentDir, { recursive: true, mode: 0o700 });
    this.nodeId = loadOrCreateNodeId(this.agentDir);
    this.keys = loadOrCreateKeyPair(this.agentDir, 'agent-key.json');
    this.trusted = new TrustedKeys(this.agentDir);
    this.labPublicKey = labKeyPair(opts.token).publicKey;
    this.name = opts.name ?? os.hostname();
    this.cluster = opts.cluster ?? DEFAULT_CLUSTER;
    // speed.json: one backend's figure, as agents kept it before every backend was measured.
    const cached =
      readJsonFile<SpeedReport[]>(path.join(this.agentDir, 'speeds.json')) ??
      readJsonFile<SpeedReport>(path.join(this.agentDir, 'speed.json'));
    this.speeds = Array.isArray(cached) ? cached : cached ? [cached] : [];
    this.speed = chooseByMeasurement(this.speeds)?.report ?? null;
  }

  /** The backend stages train on: the fastest measured, or the fallback order until measured. */
  private chosenBackend(): BackendReport['name'] | null {
    if (!this.backends) return null;
    const available = new Set(this.backends.filter((b) => b.available).map((b) => b.name));
    const measured = this.speeds.filter((s) => available.has(s.backend));
    return chooseByMeasurement(measured)?.backend ?? bestBackend(this.backends);
  }

  /** Whether the cached measurements cover every backend that works here now. */
  private speedsCoverBackends(): boolean {
    const working = (this.backends ?? []).filter((b) => b.available).map((b) => b.name);
    return speedsCover(this.speeds, working);
  }

  /** From now on this agent drives runs for the lab with `host` (before or after start). */
  setRunHost(host: RunHostPort): void {
    this.runHost = host;
  }

  private isTrusted = (publicKey: string): boolean =>
    publicKey === this.labPublicKey || this.trusted.has(publicKey);

  async start(): Promise<void> {
    for (const run of sweepStaleCheckpoints(path.join(this.agentDir, 'checkpoints')))
      this.emit('log', `removed the checkpoints of ${run}, untouched for a week`);
    const bindHost = this.bindHost();
    this.bindAddress = bindHost;
    const controlDomain = `pipefitter.control.${this.nodeId}`;
    const telemetryDomain = `pipefitter.telemetry.${this.nodeId}`;
    this.zap = await ZapAuthenticator.shared();
    this.zap.setPolicy(controlDomain, this.isTrusted);
    this.zap.setPolicy(telemetryDomain, this.isTrusted);

    this.control = new ControlServer(this.keys.secretKey, controlDomain, (r) => this.handle(r));
    this.telemetry = new TelemetryPublisher(this.keys.secretKey, telemetryDomain);
    const port = this.opts.port ?? DEFAULT_CONTROL_PORT;
    this.controlPort = await bindOrExplain(this.control, bindHost, port, 'control', '--port');
    const tport = this.opts.telemetryPort ?? (port === 0 ? 0 : port + 1);
    this.telemetryPort = await bindOrExplain(
      this.telemetry,
      bindHost,
      tport,
      'telemetry',
      '--telemetry-port',
    );
    void this.control.serve();

    this.staticInventory = readStaticInventory(this.opts.nvidiaSmi);
    this.nvidia = new NvidiaSmiStream(this.opts.nvidiaSmi);
    // Only stream when the one-shot query found GPUs: machines without nvidia-smi spawn nothing.
    void this.staticInventory.then((inv) => {
      if (inv.gpus.some((g) => g.vendor === 'NVIDIA') && this.nvidia) this.nvidia.start();
    });
    this.backendsPromise = this.probeBackends();

    this.telemetryTimer = setInterval(
      () => void this.publishSample(),
      this.opts.telemetryIntervalMs ?? 1000,
    );

    const beacon = {
      nodeId: this.nodeId,
      cluster: this.cluster,
      name: this.name,
      controlPort: this.controlPort,
      address: this.opts.advertise ?? '',
      publicKey: this.keys.publicKey,
    };
    const key = beaconKey(this.opts.token);
    this.whois = new WhoisResponder(encodeBeacon(beacon, key));
    await this.whois.start(bindHost, this.controlPort);
    this.beacon = new BeaconSender({
      beacon,
      beaconKey: key,
      interface: this.opts.interface,
      port: this.opts.beaconPort ?? DEFAULT_BEACON_PORT,
      unicast: this.opts.beaconTargets,
    });
    await this.beacon.start();
  }

  private bindHost(): string {
    if (this.opts.interface === undefined) return '0.0.0.0';
    const [target] = broadcastTargets(this.opts.interface);
    return target!.address;
  }

  private async probeBackends(): Promise<BackendReport[]> {
    try {
      this.backends = await probeBackendsIsolated();
    } catch (err) {
      this.backends = [
        { name: 'cpu', available: false, reason: (err as Error).message, detail: null },
      ];
    }
    this.inventoryChanged();
    this.emit('backends', this.backends);
    const best = bestBackend(this.backends);
    if (best && this.opts.autoBenchmark !== false && !this.speedsCoverBackends()) {
      void this.runBenchmark().catch((err: Error) =>
        this.emit('log', `benchmark failed: ${err.message}`),
      );
    }
    return this.backends;
  }

  private runBenchmark(): Promise<SpeedReport> {
    if (this.speedRun) return this.speedRun;
    this.speedRun = (async () => {
      const backends = await (this.backendsPromise ?? this.probeBackends());
      const working = backends.filter((b) => b.available).map((b) => b.name);
      if (working.length === 0)
        throw new ControlFailure(ErrorCode.Internal, 'no compute backend works on this machine');
      const gpus = (await this.staticInventory!).gpus;
      const speeds: SpeedReport[] = [];
      const failures: string[] = [];
      // One at a time: measurements that share a machine measure each other.
      for (const name of working) {
        const targets = isGpuBackend(name) && gpus.length > 0 ? gpus : [null];
        for (const g of targets) {
          try {
            speeds.push(
              await measureSpeedIsolated(
                name,
                120_000,
                g ? { index: g.index, busId: g.busId } : undefined,
              ),
            );
          } catch (err) {
            failures.push(`${name}${g ? ` on GPU ${g.index}` : ''}: ${(err as Error).message}`);
          }
        }
      }
      for (const f of failures) this.emit('log', `benchmark failed: ${f}`);
      const choice = chooseByMeasurement(speeds);
      if (!choice)
        throw new ControlFailure(
          ErrorCode.Internal,
          `no backend could be measured: ${failures.join('; ')}`,
        );
      this.speeds = speeds;
      this.speed = choice.report;
      writeFileAtomic(
        path.join(this.agentDir, 'speeds.json'),
        JSON.stringify(speeds, null, 2) + '\n',
        0o644,
      );
      this.emit('log', `backend ${choice.backend} chosen for stages: ${choice.why}`);
      this.inventoryChanged();
      return choice.report;
    })().finally(() => {
      this.speedRun = null;
    });
    return this.speedRun;
  }

  /** Backends or speed changed: bump the revision (telemetry carries it) and tell subscribers now. */
  private inventoryChanged(): void {
    this.inventoryRevision++;
    this.telemetry?.publish(TelemetryTopic.InventoryChanged, { nodeId: this.nodeId });
  }

  private async inventory(): Promise<Inventory> {
    const inv = await this.staticInventory!;
    return {
      static: inv,
      backends: this.backends ?? [],
      backendsPending: this.backends === null,
      bestBackend: this.chosenBackend(),
      speed: this.speed,
      speeds: this.speeds,
      revision: this.inventoryRevision,
    };
  }

  private async handle(req: ControlRequest): Promise<unknown> {
    if (isRunControlRequest(req)) {
      if (!this.runHost)
        throw new ControlFailure(ErrorCode.UnknownType, 'this agent does not drive runs');
      return this.runHost.handle(req);
    }
    switch (req.type) {
      case ControlType.Hello:
        return {
          protocolVersion: PROTOCOL_VERSION,
          nodeId: this.nodeId,
          name: this.name,
          cluster: this.cluster,
          capabilities: [
            Capability.Inventory,
            Capability.Telemetry,
            Capability.Benchmark,
            Capability.StageHost,
            ...(this.runHost ? [Capability.RunHost] : []),
          ],
          telemetryPort: this.telemetryPort,
          agentVersion: AGENT_VERSION,
          startedAt: this.startedAt,
        } satisfies HelloResult;
      case ControlType.Join:
        this.trusted.add(req.publicKey, `joined ${new Date().toISOString()}`);
        return { authorized: true };
      case ControlType.Ping:
        return { sentAt: req.sentAt, agentTime: Date.now() };
      case ControlType.Inventory:
        return this.inventory();
      case ControlType.Benchmark:
        if (!req.force && this.speed && this.speedsCoverBackends()) return this.speed;
        return this.runBenchmark();
      case ControlType.StageSpawn: {
        const gpus = (await this.staticInventory!).gpus;
        const busId = gpus.find((g) => g.index === req.gpu)?.busId ?? null;
        const backend = this.stageBackend(req.backend, req.rows, req.gpu);
        return this.stages.spawn(
          {
            runId: req.runId,
            stageIndex: req.stageIndex,
            replica: req.replica,
            bindHost: this.bindAddress,
            publicKey: this.keys.publicKey,
            secretKey: this.keys.secretKey,
            // The stage admits whoever the agent admits; its neighbours' keys come with its configuration.
            admit: [this.labPublicKey, ...this.trusted.list()],
            checkpointDir: path.join(this.agentDir, 'checkpoints'),
            ...backend,
          },
          req.gpu,
          (line) => this.emit('log', line),
          busId,
        );
      }
      case ControlType.StageStop:
        return { stopped: await this.stages.stop(req.runId) };
      case ControlType.StageStatus:
        return this.stages.status(req.runId, req.stageIndex, req.waitMs, req.replica);
      case ControlType.LinkEcho:
        return { chars: req.data.length };
      case ControlType.LinkMeasure:
        return this.measureLink(req.peer);
    }
  }

  private async measureLink(peer: LinkPeer): Promise<LinkMeasurement> {
    const where = `${peer.host}:${peer.controlPort}`;
    if (this.linkMeasuring)
      throw new ControlFailure(
        ErrorCode.Busy,
        `already measuring the link to ${this.linkMeasuring}: ask again when it is done`,
      );
    this.linkMeasuring = where;
    try {
      // The lab key: every agent of the lab admits it, as it admits the coordinator that holds the token.
      return await measureLinkTo(peer, labKeyPair(this.opts.token));
    } catch (err) {
      throw new ControlFailure(ErrorCode.Internal, (err as Error).message);
    } finally {
      this.linkMeasuring = null;
    }
  }

  /**
   * The backend a stage trains on: what the run forced, else what PIPEFITTER_BACKEND forces here
   * (the stage reads it), else the fastest measured for the stage's GPU at its micro-batch rows.
   */
  private stageBackend(
    requested: BackendReport['name'] | 'auto',
    rows: number | undefined,
    gpu: number | undefined,
  ): { backend: BackendReport['name'] | 'auto'; backendWhy?: string } {
    if (requested !== 'auto') return { backend: requested };
    // Said to the stage outright: a stage asked for 'auto' does not read the environment itself.
    const forcedHere = BackendNameSchema.safeParse(process.env[BACKEND_ENV]?.trim());
    if (forcedHere.success)
      return {
        backend: forcedHere.data,
        backendWhy: `${BACKEND_ENV}=${forcedHere.data} on this machine`,
      };
    const available = new Set((this.backends ?? []).filter((b) => b.available).map((b) => b.name));
    const choice = chooseByMeasurement(
      this.speeds.filter((s) => available.has(s.backend)),
      rows,
      gpu,
    );
    return choice ? { backend: choice.backend, backendWhy: choice.why } : { backend: 'auto' };
  }

  private async publishSample(): Promise<void> {
    const gpus = this.nvidia?.samples() ?? [];
    const inv = this.staticInventory ? await this.staticInventory : null;
    const sample: TelemetrySample = {
      nodeId: this.nodeId,
      seq: this.seq++,
      time: Date.now(),
      cpuLoad: this.cpu.sample(),
      memAvailableBytes: os.freemem(),
      memTotalBytes: os.totalmem(),
      gpus,
      gpuNote: this.nvidia?.note ?? inv?.gpuNote ?? null,
      inventoryRevision: this.inventoryRevision,
    };
    this.telemetry?.publish(TelemetryTopic.Sample, sample);
  }

  get stats(): { control: ControlServer['stats'] | null; zap: ZapAuthenticator['stats'] | null } {
    return { control: this.control?.stats ?? null, zap: this.zap?.stats ?? null };
  }

  async stop(): Promise<void> {
    if (this.telemetryTimer) clearInterval(this.telemetryTimer);
    this.telemetryTimer = null;
    await this.runHost?.stop().catch((err: Error) => this.emit('log', `run host: ${err.message}`));
    await this.stages.stop();
    await this.beacon?.stop();
    await this.whois?.stop();
    this.telemetry?.publish(TelemetryTopic.Bye, { nodeId: this.nodeId });
    // Give the goodbye a moment to leave before the socket closes (linger is 0).
    await new Promise((r) => setTimeout(r, 50));
    this.nvidia?.stop();
    this.control?.close();
    this.telemetry?.close();
    this.zap?.removePolicy(`pipefitter.control.${this.nodeId}`);
    this.zap?.removePolicy(`pipefitter.telemetry.${this.nodeId}`);
    this.control = null;
    this.telemetry = null;
  }
}
