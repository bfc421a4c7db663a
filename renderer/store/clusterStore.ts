import { createStore } from 'zustand/vanilla';
import { useStore } from 'zustand';
import type { ApiEventBatch, JoinInfo, NodeView, Settings } from '../../native/api/types.js';
import type { LocalAgentStatus, Stranger } from '../../native/api/schemas.js';

/** Points kept per sparkline: a minute at one sample a second. Bounded so a long session does not grow. */
export const HISTORY_POINTS = 60;

export interface NodeHistory {
  /** Telemetry sequence number last recorded, so a state-only update does not add a point. */
  seq: number;
  /** CPU load, 0..100. */
  cpu: number[];
  /** Per GPU index: utilisation 0..100, NaN where it could not be read. */
  gpu: number[][];
}

export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface ClusterState {
  nodes: Record<string, NodeView>;
  history: Record<string, NodeHistory>;
  /** True once the first full list arrived (distinguishes "no machines" from "not loaded yet"). */
  loaded: boolean;
  connection: ConnectionState;
  /** Server clock minus ours, so "seen 4 s ago" is right even if the two clocks differ. */
  clockOffsetMs: number;
  join: JoinInfo | null;
  localAgent: LocalAgentStatus | null;
  settings: Settings | null;
  /** Addresses sending beacons without the lab token's proof (shown as one line each). */
  strangers: Stranger[];
}

const initial: ClusterState = {
  nodes: {},
  history: {},
  loaded: false,
  connection: 'connecting',
  clockOffsetMs: 0,
  join: null,
  localAgent: null,
  settings: null,
  strangers: [],
};

export function createClusterStore() {
  return createStore<ClusterState>(() => ({ ...initial }));
}
export type ClusterStore = ReturnType<typeof createClusterStore>;

function push(series: number[], value: number): number[] {
  const next = series.length >= HISTORY_POINTS ? series.slice(1 - HISTORY_POINTS) : series.slice();
  next.push(value);
  return next;
}

/** Adds one point per new telemetry sample; returns the same object when there is nothing new. */
function recordSample(prev: NodeHistory | undefined, node: NodeView): NodeHistory | undefined {
  const t = node.telemetry;
  if (!t || (prev && prev.seq === t.seq)) return prev;
  const base = prev ?? { seq: -1, cpu: [], gpu: [] };
  const gpu = t.gpus.map((g, i) => push(base.gpu[i] ?? [], g.utilizationPct ?? Number.NaN));
  return { seq: t.seq, cpu: push(base.cpu, t.cpuLoad * 100), gpu };
}

/**
 * Applies a batch of API events in one store update: only the nodes named in the batch get new objects,
 * so a card subscribed to one node re-renders only when that node changed.
 */
export function applyBatch(store: ClusterStore, batch: ApiEventBatch): void {
  store.setState((s) => {
    let nodes = s.nodes;
    let history = s.history;
    let localAgent = s.localAgent;
    let strangers = s.strangers;
    const own = () => {
      if (nodes === s.nodes) nodes = { ...s.nodes };
      if (history === s.history) history = { ...s.history };
    };
    for (const e of batch.events) {
      if (e.type === 'nodeChanged') {
        own();
        nodes[e.node.id] = e.node;
        const h = recordSample(history[e.node.id], e.node);
        if (h) history[e.node.id] = h;
      } else if (e.type === 'nodeTelemetry') {
        const prev = nodes[e.id];
        if (!prev) continue;
        own();
        const node = { ...prev, telemetry: e.telemetry, lastSeen: e.lastSeen, rttMs: e.rttMs };
        nodes[e.id] = node;
        const h = recordSample(history[e.id], node);
        if (h) history[e.id] = h;
      } else if (e.type === 'nodeRemoved') {
        own();
        delete nodes[e.id];
        delete history[e.id];
      } else if (e.type === 'localAgent') {
        localAgent = e.status;
      } else if (e.type === 'strangers') {
        strangers = e.strangers;
      }
    }
    return {
      nodes,
      history,
      localAgent,
      strangers,
      clockOffsetMs: batch.serverTime - Date.now(),
    };
  });
}

/** Replaces the node list with a full snapshot (first load, and after a reconnect). */
export function applySnapshot(store: ClusterStore, list: NodeView[], serverTime: number): void {
  store.setState((s) => {
    const nodes: Record<string, NodeView> = {};
    const history: Record<string, NodeHistory> = {};
    for (const n of list) {
      nodes[n.id] = n;
      const h = recordSample(s.history[n.id], n);
      if (h) history[n.id] = h;
    }
    return { nodes, history, loaded: true, clockOffsetMs: serverTime - Date.now() };
  });
}

/** The app's one store; components read it through useCluster with narrow selectors. */
export const clusterStore = createClusterStore();

export function useCluster<T>(selector: (s: ClusterState) => T): T {
  return useStore(clusterStore, selector);
}
