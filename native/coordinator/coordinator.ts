import fs from 'node:fs';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { DEFAULT_BEACON_PORT } from '../discovery/beacon.js';
import { BeaconListener } from '../discovery/beaconListener.js';
import { whois } from '../discovery/whois.js';
import { ControlType, ErrorCode } from '../protocol/version.js';
import { loadOrCreateKeyPair, type CurveKeyPair } from '../trust/keyPair.js';
import { beaconKey, labKeyPair } from '../trust/token.js';
import type { StrangerSummary } from '../discovery/strangerLog.js';
import { readJsonFile, writeFileAtomic } from '../util/fsAtomic.js';
import { unorderedPairs } from '../util/pairs.js';
import { NodeLink, RequestError, type ControlPayloads } from './nodeLink.js';
import type { ResultTypes } from '../protocol/controlSchemas.js';
import type { NodeRecord, NodeSource } from './nodeRecord.js';
import { LinkCache, type LinkEntry } from './linkCache.js';
import { hostOfNode } from './nodesToCluster.js';
import { DEFAULT_LINK, pairKey, type Link } from '../planner/cluster.js';
import { formatLink } from '../common/format.js';
import {
  DEFAULT_TIMINGS,
  Registry,
  type RegistryChange,
  type RegistryTimings,
} from './registry.js';

export const DEFAULT_AGENT_PORT = 47801;
const TICK_MS = 250;

/**
 * Bounds on what announcements can make a coordinator allocate. Each node costs two ZeroMQ sockets, and
 * libzmq refuses a context's 1,024th socket (EMFILE), so the registry stops well short of that.
 */
export interface CoordinatorLimits {
  /** Nodes in the registry at most; announcements of further new ids are dropped and counted. */
  maxNodes: number;
  /** Nodes that have never answered, from one source address, at most (beacons we cannot verify). */
  maxUnansweredPerAddress: number;
  /** A node that never answered and is no longer announced is forgotten after this long. */
  forgetUnansweredAfterMs: number;
}

export const DEFAULT_LIMITS: CoordinatorLimits = {
  maxNodes: 256,
  maxUnansweredPerAddress: 8,
  forgetUnansweredAfterMs: 15_000,
};

/** Announcements the coordinator dropped to stay within its limits. */
export interface AnnounceDrops {
  registryFull: number;
  tooManyUnansweredFromAddress: number;
  socketErrors: number;
}

export interface CoordinatorOptions {
  stateDir: string;
  /** The lab token; without it the coordinator uses its own key, which agents must already trust. */
  token?: string;
  cluster?: string;
  beaconPort?: number;
  /** Listen for beacons (default true). */
  discover?: boolean;
  /** Addresses ("host" or "host:port") to add at start, on top of <state-dir>/coordinator/peers.json. */
  peers?: string[];
  pingIntervalMs?: number;
  timings?: RegistryTimings;
  limits?: Partial<CoordinatorLimits>;
}

interface CoordinatorEvents {
  change: [RegistryChange];
  /** The unauthenticated senders changed (at most once a second, however fast they send). */
  strangers: [StrangerSummary[]];
  log: [string];
  /** A configured peer (option or peers file) could not be added: the address and why. */
  peerError: [string, string];
}

interface PeersFile {
  peers: string[];
}

export function parsePeerAddress(address: string): { host: string; port: number } {
  const trimmed = address.trim();
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(trimmed);
  if (!m)
    throw new Error(
      `"${address}" is not an address: use host or host:port, for example 192.168.1.20 or ws-07:47801`,
    );
  const port = m[2] === undefined ? DEFAULT_AGENT_PORT : Number(m[2]);
  if (port < 1 || port > 65535) throw new Error(`port ${port} is out of range (1-65535)`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * Finds agents (beacons, addresses, a peers file), keeps a link to each, and maintains the registry:
 * hello, inventory, telemetry subscription, and a ping a second for liveness and round-trip time.
 */
export class Coordinator extends EventEmitter<CoordinatorEvents> {
  readonly registry: Registry;
  readonly ownKeys: CurveKeyPair;
  private readonly clientKeys: CurveKeyPair;
  private readonly usesLabKey: boolean;
  private readonly links = new Map<string, NodeLink>();
  private listener: BeaconListener | null = null;
  private timers: NodeJS.Timeout[] = [];
  private readonly peersFile: string;
  private stopped = false;
  private readonly beaconKey: Buffer | undefined;
  readonly limits: CoordinatorLimits;
  readonly drops: AnnounceDrops = {
    registryFull: 0,
    tooManyUnansweredFromAddress: 0,
    socketErrors: 0,
  };
  private readonly linkCache: LinkCache;
  /** Link measurements under way, by pairKey: a second caller waits for the first's. */
  private readonly linkMeasurements = new Map<string, Promise<LinkEntry>>();
  /** Where each node that has never answered was announced from, and when it was last announced. */
  private readonly unanswered = new Map<string, { from: string; lastAnnounced: number }>();

  constructor(private readonly opts: CoordinatorOptions) {
    super();
    const dir = path.join(opts.stateDir, 'coordinator');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.ownKeys = loadOrCreateKeyPair(dir, 'coordinator-key.json');
    this.usesLabKey = opts.token !== undefined;
    this.clientKeys = opts.token !== undefined ? labKeyPair(opts.token) : this.ownKeys;
    this.beaconKey = opts.token !== undefined ? beaconKey(opts.token) : undefined;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.peersFile = path.join(dir, 'peers.json');
    this.linkCache = new LinkCache(path.join(dir, 'links.json'));
    this.registry = new Registry(opts.timings ?? DEFAULT_TIMINGS);
    this.registry.on('change', (c) => this.emit('change', c));
  }

  /** Where runs driven from here keep their copies of the stages' checkpoints. */
  get checkpointCopiesDir(): string {
    return path.join(this.opts.stateDir, 'coordinator', 'checkpoints');
  }

  get cluster(): string {
    return this.opts.cluster ?? 'default';
  }

  async start(): Promise<void> {
    if (this.opts.discover !== false) {
      this.listener = new BeaconListener({
        cluster: this.cluster,
        port: this.opts.beaconPort ?? DEFAULT_BEACON_PORT,
        beaconKey: this.beaconKey,
      });
      this.listener.on('beacon', (b) =>
        this.onAnnounce(
          b.nodeId,
          b.name,
          b.cluster,
          b.host,
          b.controlPort,
          b.publicKey,
          'beacon',
          b.from,
        ),
      );
      this.listener.on('debug', (line) => this.emit('log', line));
      await this.listener.start();
    }
    this.timers.push(setInterval(() => this.tick(), TICK_MS));
    this.timers.push(setInterval(() => this.pingAll(), this.opts.pingIntervalMs ?? 1000));
    const saved = readJsonFile<PeersFile>(this.peersFile)?.peers ?? [];
    for (const peer of new Set([...saved, ...(this.opts.peers ?? [])])) {
      void this.addPeer(peer, { persist: false }).catch((err: Error) =>
        this.emit('peerError', peer, err.message),
      );
    }
  }

  get beaconStats() {
    return this.listener?.stats ?? null;
  }

  /** Addresses whose beacons did not prove the lab token, most recent first (bounded). */
  strangers(): StrangerSummary[] {
    return this.listener?.strangerSummary() ?? [];
  }

  /** ZeroMQ sockets this coordinator holds open for its nodes (a DEALER, and a SUB once online). */
  get openLinkCount(): number {
    return this.links.size;
  }

  nodes(): NodeRecord[] {
    return this.registry.list();
  }

  private onAnnounce(
    id: string,
    name: string,
    cluster: string,
    host: string,
    controlPort: number,
    publicKey: string,
    source: NodeSource,
    from = host,
  ): void {
    if (this.stopped) return;
    const now = Date.now();
    const known = this.registry.get(id);
    if (!known) {
      if (this.registry.size >= this.limits.maxNodes) {
        if (this.drops.registryFull++ === 0)
          this.emit(
            'log',
            `registry full (${this.limits.maxNodes} nodes): ignoring new node ${id} from ${from}`,
          );
        return;
      }
      // Beacons we could verify came from a token holder; others (no token here) are bounded per sender.
      if (source === 'beacon' && this.beaconKey === undefined) {
        let fromThere = 0;
        for (const u of this.unanswered.values()) if (u.from === from) fromThere++;
        if (fromThere >= this.limits.maxUnansweredPerAddress) {
          this.drops.tooManyUnansweredFromAddress++;
          return;
        }
      }
    }
    const action = this.registry.announce(
      { id, name, cluster, endpoint: { host, controlPort, publicKey }, source },
      now,
    );
    const node = this.registry.get(id);
    if (node && node.agentVersion === null) this.unanswered.set(id, { from, lastAnnounced: now });
    if (action === 'connect') this.openLink(id);
  }

  /**
   * Forgets nodes that never answered and are no longer announced (a stranger's one-off beacon with a
   * fresh id, an agent that went away before we reached it), closing their sockets.
   */
  private forgetUnanswered(now: number): void {
    for (const [id, u] of this.unanswered) {
      const node = this.registry.get(id);
      if (!node || node.agentVersion !== null) {
        this.unanswered.delete(id);
        continue;
      }
      if (now - u.lastAnnounced > this.limits.forgetUnansweredAfterMs && node.source === 'beacon') {
        this.unanswered.delete(id);
        this.links.get(id)?.close();
        this.links.delete(id);
        this.registry.remove(id);
      }
    }
  }

  private lastTickAt = Date.now();

  private tick(): void {
    const now = Date.now();
    const stall = now - this.lastTickAt - TICK_MS;
    this.lastTickAt = now;
    // Ticks come every 250 ms; a late one means this process was blocked, not that agents went quiet.
    if (stall > 500) this.registry.excuseStall(stall, now);
    for (const id of this.registry.tick(now)) this.openLink(id);
    this.forgetUnanswered(now);
    this.reportStrangers(now);
  }

  private strangersReported = { count: 0, at: 0 };

  private reportStrangers(now: number): void {
    const count = this.listener?.stats.ignoredUnauthenticated ?? 0;
    if (count === this.strangersReported.count || now - this.strangersReported.at < 1000) return;
    this.strangersReported = { count, at: now };
    this.emit('strangers', this.strangers());
  }

  private openLink(id: string): void {
    const node = this.registry.get(id);
    if (!node) return;
    this.links.get(id)?.close();
    this.links.delete(id);
    let link: NodeLink;
    try {
      link = new NodeLink(node.endpoint, this.clientKeys);
    } catch (err) {
      // Out of sockets or file descriptors (EMFILE), or an endpoint ZeroMQ will not take: this node
      // waits, every other node carries on. Its next announcement tries again.
      this.drops.socketErrors++;
      this.registry.markUnreachable(
        id,
        `cannot open a connection: ${(err as Error).message}`,
        Date.now(),
      );
      this.retryLinkLater(id);
      return;
    }
    this.links.set(id, link);
    link.on('refused', (reason) => this.registry.refused(id, reason, Date.now()));
    link.on('telemetry', (sample) => {
      if (sample.nodeId !== id) return;
      this.registry.telemetryReceived(id, sample, Date.now());
      // The agent's inventory moved on and we missed the notice (a PUB drops what it sends before a
      // subscriber has joined): catch up from the revision every sample carries.
      const have = this.registry.get(id)?.inventory?.revision;
      if (
        sample.inventoryRevision !== undefined &&
        have !== undefined &&
        sample.inventoryRevision !== have
      )
        void this.fetchInventory(id, link);
    });
    link.on('inventoryChanged', () => void this.fetchInventory(id, link));
    link.on('bye', () => this.registry.markOffline(id, 'the agent stopped', Date.now()));
    link.on('socketError', (message) => {
      this.drops.socketErrors++;
      this.emit('log', `${id}: ${message}`);
    });
    void this.greet(id, link);
  }

  private readonly linkRetries = new Map<string, { timer: NodeJS.Timeout; delayMs: number }>();

  /** Tries to open a node's link again, backing off from 1 s to 10 s while sockets stay short. */
  private retryLinkLater(id: string): void {
    const previous = this.linkRetries.get(id);
    const delayMs = Math.min((previous?.delayMs ?? 500) * 2, 10_000);
    const timer = setTimeout(() => {
      if (this.stopped || this.links.has(id) || !this.registry.get(id)) {
        this.linkRetries.delete(id);
        return;
      }
      this.openLink(id);
      if (this.links.has(id)) this.linkRetries.delete(id);
    }, delayMs);
    timer.unref();
    this.linkRetries.set(id, { timer, delayMs });
  }

  private async greet(id: string, link: NodeLink): Promise<void> {
    while (!this.stopped && this.links.get(id) === link) {
      const sentAt = Date.now();
      try {
        const hello = await link.request(ControlType.Hello, {}, 2000);
        if (hello.nodeId !== id) {
          this.registry.refused(
            id,
            `the agent at ${link.endpoint.host}:${link.endpoint.controlPort} now says it is ${hello.nodeId}`,
            Date.now(),
          );
          return;
        }
        this.registry.helloAnswered(
          id,
          {
            name: hello.name,
            telemetryPort: hello.telemetryPort,
            agentVersion: hello.agentVersion,
            rttMs: Date.now() - sentAt,
            ...(hello.startedAt === undefined ? {} : { startedAt: hello.startedAt }),
          },
          Date.now(),
        );
        link.subscribe(hello.telemetryPort);
        await this.fetchInventory(id, link);
        if (this.usesLabKey) {
          // Enrol our own key too, so this coordinator is still admitted if the lab token is rotated.
          link.request(ControlType.Join, { publicKey: this.ownKeys.publicKey }).catch(() => {});
        }
        return;
      } catch (err) {
        if (err instanceof RequestError && err.code === ErrorCode.UnsupportedVersion) {
          this.registry.refused(id, `protocol mismatch: ${err.message}`, Date.now());
          return;
        }
        if (err instanceof RequestError && err.code === 'closed') return;
        // Not connected yet, or a timeout: the agent may still be starting, or it refused our key (the
        // link reports that separately). Retry soon; the first CURVE handshake takes a few ms.
        const notConnected = err instanceof RequestError && err.code === 'not-connected';
        await new Promise((r) => setTimeout(r, notConnected ? 50 : 500));
      }
    }
  }

  private readonly inventoryFetches = new Set<string>();

  private async fetchInventory(id: string, link: NodeLink): Promise<void> {
    if (this.inventoryFetches.has(id)) return;
    this.inventoryFetches.add(id);
    try {
      const inv = await link.request(ControlType.Inventory, {}, 10_000);
      this.registry.inventoryReceived(id, inv);
    } catch (err) {
      this.emit('log', `inventory of ${id}: ${(err as Error).message}`);
    } finally {
      this.inventoryFetches.delete(id);
    }
  }

  private pingAll(): void {
    for (const [id, link] of this.links) {
      const node = this.registry.get(id);
      if (!node || node.state === 'connecting' || node.state === 'refused') continue;
      const sentAt = Date.now();
      link
        .request(ControlType.Ping, { sentAt }, 1500)
        .then(() => this.registry.heard(id, Date.now(), Date.now() - sentAt))
        .catch(() => {});
    }
  }

  /**
   * Adds a machine by address: asks it who it is (UDP WHOIS on the control port number), then connects.
   * Resolves once it is online; rejects with a reason a person can act on.
   */
  async addPeer(
    address: string,
    o: { persist?: boolean; timeoutMs?: number } = {},
  ): Promise<NodeRecord> {
    const { host, port } = parsePeerAddress(address);
    const beacon = await whois(host, port, Math.min(o.timeoutMs ?? 3000, 3000), this.beaconKey);
    if (beacon.cluster !== this.cluster) {
      throw new Error(
        `the agent at ${host}:${port} belongs to cluster "${beacon.cluster}", not "${this.cluster}"`,
      );
    }
    this.onAnnounce(
      beacon.nodeId,
      beacon.name,
      beacon.cluster,
      beacon.address || host,
      beacon.controlPort,
      beacon.publicKey,
      'manual',
    );
    const node = await this.waitFor(
      beacon.nodeId,
      (n) => n.state === 'online' || n.state === 'refused',
      o.timeoutMs ?? 5000,
    );
    if (node.state === 'refused')
      throw new Error(node.stateReason ?? 'the agent refused this coordinator');
    if (o.persist !== false) this.persistPeer(`${host}:${port}`);
    return node;
  }

  private persistPeer(address: string): void {
    const peers = new Set(readJsonFile<PeersFile>(this.peersFile)?.peers ?? []);
    if (peers.has(address)) return;
    peers.add(address);
    writeFileAtomic(this.peersFile, JSON.stringify({ peers: [...peers] }, null, 2) + '\n', 0o644);
  }

  /** Resolves with the node once `pred` holds, or rejects after `timeoutMs` saying what state it is in. */
  waitFor(id: string, pred: (n: NodeRecord) => boolean, timeoutMs: number): Promise<NodeRecord> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const n = this.registry.get(id);
        if (n && pred(n)) {
          cleanup();
          resolve(n);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        const n = this.registry.get(id);
        reject(
          new Error(
            n
              ? `${n.name} is ${n.state}${n.stateReason ? `: ${n.stateReason}` : ''}`
              : `node ${id} not found`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.registry.off('change', check);
      };
      this.registry.on('change', check);
      check();
    });
  }

  /** The key pair this coordinator authenticates with (the lab key when it holds the token). */
  get clientKeyPair(): CurveKeyPair {
    return this.clientKeys;
  }

  /** A control request to one node, for callers above the registry (runs). */
  request<T extends ControlType>(
    id: string,
    type: T,
    payload: ControlPayloads[T],
    timeoutMs?: number,
  ): Promise<ResultTypes[T]> {
    const link = this.links.get(id);
    if (!link) return Promise.reject(new Error(`no connection to node ${id}`));
    return link.request(type, payload, timeoutMs);
  }

  /** Asks a node to measure its speed again (or return the cached figure). */
  async benchmark(id: string, force = true) {
    const link = this.links.get(id);
    if (!link) throw new Error(`no node ${id}`);
    const speed = await link.request(ControlType.Benchmark, { force }, 120_000);
    this.registry.speedReceived(id, speed);
    return speed;
  }

  /**
   * The link between two agents: the first measures it to the second, over the network (cached per
   * pair; `force` measures again). Rejects with why it could not be measured.
   */
  async measureLink(aId: string, bId: string, o: { force?: boolean } = {}): Promise<LinkEntry> {
    const [a, b] = [this.registry.get(aId), this.registry.get(bId)];
    if (!a || !b) throw new Error(`no node ${a ? bId : aId}`);
    if (aId === bId) throw new Error('a link needs two different nodes');
    const cached = o.force ? null : this.linkCache.fresh(a, b);
    if (cached) return cached;
    const key = pairKey(aId, bId);
    const running = this.linkMeasurements.get(key);
    if (running) return running;
    const measuring = this.request(aId, ControlType.LinkMeasure, { peer: b.endpoint }, 5000)
      .then((link) => this.linkCache.set(a, b, link))
      .finally(() => this.linkMeasurements.delete(key));
    this.linkMeasurements.set(key, measuring);
    return measuring;
  }

  /**
   * Measures the links between the online nodes among `ids` that run on different computers, where
   * none is cached, one pair at a time (measurements that share a network measure each other), for
   * at most `budgetMs` in all. Never rejects: a pair that cannot be measured keeps the default link,
   * and `log` is told why. Resolves with every fresh link among them, for clusterFromNodes.
   */
  async measureLinks(
    ids: Iterable<string>,
    o: {
      budgetMs?: number;
      log?: (line: string) => void;
      /** Only the pairs with this node. */
      involving?: string;
      /** Measure again what is cached. */
      force?: boolean;
    } = {},
  ): Promise<Map<string, Link>> {
    const log = o.log ?? ((line: string) => this.emit('log', line));
    const deadline = Date.now() + (o.budgetMs ?? 10_000);
    const nodes = [...new Set(ids)]
      .map((id) => this.registry.get(id))
      .filter((n): n is NodeRecord => n?.state === 'online');
    const fallback = `planned as the default link (${formatLink(DEFAULT_LINK)})`;
    for (const [a, b] of unorderedPairs(nodes)) {
      const [ha, hb] = [hostOfNode(a), hostOfNode(b)];
      if (ha !== undefined && ha === hb) continue;
      if (o.involving !== undefined && a.id !== o.involving && b.id !== o.involving) continue;
      if (!o.force && this.linkCache.fresh(a, b)) continue;
      if (Date.now() > deadline) {
        log(`link ${a.name} ⇄ ${b.name} not measured (out of time): ${fallback}`);
        continue;
      }
      try {
        const e = await this.measureLink(a.id, b.id, { force: o.force ?? false });
        log(`link ${a.name} ⇄ ${b.name}: ${formatLink(e)}`);
      } catch (err) {
        log(`link ${a.name} ⇄ ${b.name} not measured (${(err as Error).message}): ${fallback}`);
      }
    }
    return this.linkCache.linksAmong(nodes);
  }

  /** The fresh measured links among `nodes` (all known nodes by default), keyed by pairKey. */
  measuredLinks(nodes: NodeRecord[] = this.nodes()): Map<string, Link> {
    return this.linkCache.linksAmong(nodes);
  }

  /** As measuredLinks, with when each was measured (for the app's list of links). */
  measuredLinkEntries(nodes: NodeRecord[] = this.nodes()): Map<string, LinkEntry> {
    return this.linkCache.entriesAmong(nodes);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const r of this.linkRetries.values()) clearTimeout(r.timer);
    this.linkRetries.clear();
    for (const link of this.links.values()) link.close();
    this.links.clear();
    await this.listener?.stop();
  }
}
