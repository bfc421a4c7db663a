import type { NodeView } from '../../native/api/schemas.js';

/** A minimal valid node record for API and store tests. */
export function fakeNode(id: string, over: Partial<NodeView> = {}): NodeView {
  return {
    id,
    name: `ws-${id}`,
    cluster: 'default',
    endpoint: { host: '127.0.0.1', controlPort: 47801, publicKey: 'k'.repeat(40) },
    addresses: ['127.0.0.1'],
    source: 'beacon',
    state: 'online',
    stateReason: null,
    conflict: null,
    firstSeen: 1,
    lastSeen: 2,
    stateSince: 1,
    telemetryPort: 47802,
    agentVersion: '0.1.0',
    inventory: null,
    telemetry: null,
    speed: null,
    rttMs: 1,
    ...over,
  };
}
