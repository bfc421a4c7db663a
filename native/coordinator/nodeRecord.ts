import type { Inventory, SpeedReport, TelemetrySample } from '../protocol/inventorySchemas.js';

/**
 * connecting: found, not yet answered hello. online: answering. unreachable: stopped answering (within 3 s).
 * offline: unreachable for a long time, or stopped cleanly. refused: the agent rejected our key (wrong token).
 */
export type NodeState = 'connecting' | 'online' | 'unreachable' | 'offline' | 'refused';

export interface Endpoint {
  host: string;
  controlPort: number;
  publicKey: string;
}

export type NodeSource = 'beacon' | 'manual' | 'config';

export interface NodeRecord {
  id: string;
  name: string;
  cluster: string;
  endpoint: Endpoint;
  /** Every address this node has been reached or announced at. */
  addresses: string[];
  source: NodeSource;
  state: NodeState;
  /** Why the node is not online, in words ("agent refused our key: wrong token?"). */
  stateReason: string | null;
  /** Set when two live agents announce this id (a cloned state dir): both endpoints are named. */
  conflict: string | null;
  firstSeen: number;
  lastSeen: number;
  stateSince: number;
  telemetryPort: number | null;
  agentVersion: string | null;
  /** When the agent process started, from its hello (absent or null: not said, an older agent). */
  agentStartedAt?: number | null;
  inventory: Inventory | null;
  telemetry: TelemetrySample | null;
  speed: SpeedReport | null;
  rttMs: number | null;
}
