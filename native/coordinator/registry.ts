import { EventEmitter } from 'node:events';
import type { Inventory, SpeedReport, TelemetrySample } from '../protocol/inventorySchemas.js';
import type { Endpoint, NodeRecord, NodeSource, NodeState } from './nodeRecord.js';

export interface RegistryTimings {
  /** No reply or telemetry for this long: unreachable. */
  unreachableAfterMs: number;
  /** Unreachable for this long: offline. */
  offlineAfterMs: number;
  /** A second live endpoint announcing the same id for this long: conflict. */
  conflictAfterMs: number;
}

export const DEFAULT_TIMINGS: RegistryTimings = {
  unreachableAfterMs: 2000,
  offlineAfterMs: 60_000,
  conflictAfterMs: 3000,
};

export type RegistryChange =
  | { kind: 'added'; node: NodeRecord }
  | { kind: 'state'; node: NodeRecord; from: NodeState }
  | { kind: 'updated'; node: NodeRecord }
  | { kind: 'endpoint'; node: NodeRecord; from: Endpoint }
  | { kind: 'conflict'; node: NodeRecord }
  | { kind: 'removed'; id: string };

interface RegistryEvents {
  change: [RegistryChange];
}

/** Events carry a snapshot: a listener that keeps it sees the node as it was at that change. */
function snapshot(node: NodeRecord): NodeRecord {
  return { ...node, addresses: [...node.addresses] };
}

interface Candidate {
  endpoint: Endpoint;
  firstSeen: number;
  lastSeen: number;
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.host === b.host && a.controlPort === b.controlPort && a.publicKey === b.publicKey;
}

/**
 * The live list of nodes. Pure state machine: every input carries its time, so tests drive it with a
 * fake clock; the coordinator feeds it beacons, replies and telemetry, and calls tick() periodically.
 */
export class Registry extends EventEmitter<RegistryEvents> {
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly candidates = new Map<string, Candidate>();

  constructor(readonly timings: RegistryTimings = DEFAULT_TIMINGS) {
    super();
  }

  list(): NodeRecord[] {
    return [...this.nodes.values()]
      .map(snapshot)
      .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  get(id: string): NodeRecord | undefined {
    return this.nodes.get(id);
  }

  get size(): number {
    return this.nodes.size;
  }

  /**
   * A node was announced (beacon) or added by address. Returns 'connect' when the coordinator should open
   * (or re-open) a link to the given endpoint.
   */
  announce(
    a: { id: string; name: string; cluster: string; endpoint: Endpoint; source: NodeSource },
    now: number,
  ): 'connect' | 'none' {
    const existing = this.nodes.get(a.id);
    if (!existing) {
      const node: NodeRecord = {
        id: a.id,
        name: a.name,
        cluster: a.cluster,
        endpoint: a.endpoint,
        addresses: [a.endpoint.host],
        source: a.source,
        state: 'connecting',
        stateReason: null,
        conflict: null,
        firstSeen: now,
        lastSeen: now,
        stateSince: now,
        telemetryPort: null,
        agentVersion: null,
        agentStartedAt: null,
        inventory: null,
        telemetry: null,
        speed: null,
        rttMs: null,
      };
      this.nodes.set(a.id, node);
      this.emit('change', { kind: 'added', node: snapshot(node) });
      return 'connect';
    }
    if (sameEndpoint(existing.endpoint, a.endpoint)) {
      // (A candidate endpoint is not cleared here: with a clone, both keep announcing.)
      if (existing.name !== a.name) {
        existing.name = a.name;
        this.emit('change', { kind: 'updated', node: snapshot(existing) });
      }
      // A beacon from a node we gave up on (offline, refused) is worth another try.
      if (existing.state === 'offline') {
        this.setState(existing, 'connecting', null, now);
        return 'connect';
      }
      return 'none';
    }
    // Same id, another endpoint: a restart on a new port/address, or a clone of its state dir.
    if (existing.state !== 'online') {
      this.moveTo(existing, a.endpoint, now);
      return 'connect';
    }
    const c = this.candidates.get(a.id);
    if (c && sameEndpoint(c.endpoint, a.endpoint)) c.lastSeen = now;
    else this.candidates.set(a.id, { endpoint: a.endpoint, firstSeen: now, lastSeen: now });
    return 'none';
  }

  private moveTo(node: NodeRecord, endpoint: Endpoint, now: number): void {
    const from = node.endpoint;
    node.endpoint = endpoint;
    if (!node.addresses.includes(endpoint.host)) node.addresses.push(endpoint.host);
    this.candidates.delete(node.id);
    node.conflict = null;
    this.setState(node, 'connecting', null, now);
    this.emit('change', { kind: 'endpoint', node: snapshot(node), from });
  }

  helloAnswered(
    id: string,
    h: {
      name: string;
      telemetryPort: number;
      agentVersion: string;
      rttMs: number;
      startedAt?: number;
    },
    now: number,
  ): void {
    const node = this.nodes.get(id);
    if (!node) return;
    node.name = h.name;
    node.telemetryPort = h.telemetryPort;
    node.agentVersion = h.agentVersion;
    node.agentStartedAt = h.startedAt ?? null;
    node.rttMs = h.rttMs;
    node.lastSeen = now;
    this.setState(node, 'online', null, now);
  }

  /** Any sign of life: a ping reply, a telemetry sample. */
  heard(id: string, now: number, rttMs?: number): void {
    const node = this.nodes.get(id);
    if (!node) return;
    node.lastSeen = now;
    if (rttMs !== undefined) node.rttMs = rttMs;
    if (node.state === 'unreachable' || node.state === 'offline')
      this.setState(node, 'online', null, now);
  }

  inventoryReceived(id: string, inventory: Inventory): void {
    const node = this.nodes.get(id);
    if (!node) return;
    node.inventory = inventory;
    node.speed = inventory.speed ?? node.speed;
    this.emit('change', { kind: 'updated', node: snapshot(node) });
  }

  speedReceived(id: string, speed: SpeedReport): void {
    const node = this.nodes.get(id);
    if (!node) return;
    node.speed = speed;
    this.emit('change', { kind: 'updated', node: snapshot(node) });
  }

  telemetryReceived(id: string, sample: TelemetrySample, now: number): void {
    const node = this.nodes.get(id);
    if (!node) return;
    node.telemetry = sample;
    this.heard(id, now);
    this.emit('change', { kind: 'updated', node: snapshot(node) });
  }

  refused(id: string, reason: string, now: number): void {
    const node = this.nodes.get(id);
    if (node) this.setState(node, 'refused', reason, now);
  }

  /** We cannot reach the node for a reason of our own (no socket could be opened). */
  markUnreachable(id: string, reason: string, now: number): void {
    const node = this.nodes.get(id);
    if (node) this.setState(node, 'unreachable', reason, now);
  }

  /** The agent said goodbye, or the link was closed on purpose. */
  markOffline(id: string, reason: string, now: number): void {
    const node = this.nodes.get(id);
    if (node) this.setState(node, 'offline', reason, now);
  }

  remove(id: string): void {
    if (this.nodes.delete(id)) this.emit('change', { kind: 'removed', id });
    this.candidates.delete(id);
  }

  /**
   * Our own event loop was blocked for `ms` (a long synchronous computation, a GC pause, a suspended
   * laptop): nothing could have been heard meanwhile, so that silence is ours, not the nodes'.
   */
  excuseStall(ms: number, now: number): void {
    for (const node of this.nodes.values()) node.lastSeen = Math.min(now, node.lastSeen + ms);
  }

  /** Ages nodes. Returns ids whose link should be re-opened at a new endpoint. */
  tick(now: number): string[] {
    const reconnect: string[] = [];
    const t = this.timings;
    for (const node of this.nodes.values()) {
      const silent = now - node.lastSeen;
      if (node.state === 'online' && silent > t.unreachableAfterMs) {
        this.setState(node, 'unreachable', `no answer for ${(silent / 1000).toFixed(1)} s`, now);
      } else if (node.state === 'unreachable' && now - node.stateSince > t.offlineAfterMs) {
        this.setState(
          node,
          'offline',
          `no answer since ${new Date(node.lastSeen).toISOString()}`,
          now,
        );
      }
      const c = this.candidates.get(node.id);
      if (!c) continue;
      if (now - c.lastSeen > t.conflictAfterMs) {
        this.candidates.delete(node.id);
      } else if (node.state !== 'online') {
        // The old endpoint went quiet while the new one announces: it moved (restart on a new port).
        this.moveTo(node, c.endpoint, now);
        reconnect.push(node.id);
      } else if (now - c.firstSeen >= t.conflictAfterMs && !node.conflict) {
        const fmt = (e: Endpoint) => `${e.host}:${e.controlPort}`;
        node.conflict = `two live agents announce node id ${node.id}: ${fmt(node.endpoint)} and ${fmt(c.endpoint)} (a cloned state dir? give one a fresh --state-dir)`;
        this.emit('change', { kind: 'conflict', node: snapshot(node) });
      }
    }
    return reconnect;
  }

  private setState(node: NodeRecord, state: NodeState, reason: string | null, now: number): void {
    if (node.state === state && node.stateReason === reason) return;
    const from = node.state;
    node.state = state;
    node.stateReason = reason;
    if (from !== state) node.stateSince = now;
    this.emit('change', { kind: 'state', node: snapshot(node), from });
  }
}
