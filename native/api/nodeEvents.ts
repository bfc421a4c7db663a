import type { NodeRecord } from '../coordinator/nodeRecord.js';
import type { ApiEvent } from './schemas.js';

/** Everything of a record except the live sample, by reference or value: what makes a change "full". */
function signature(n: NodeRecord): unknown[] {
  return [
    n.name,
    n.state,
    n.stateReason,
    n.conflict,
    n.endpoint.host,
    n.endpoint.controlPort,
    n.endpoint.publicKey,
    n.addresses.length,
    n.agentVersion,
    n.telemetryPort,
    n.inventory,
    n.speed,
  ];
}

/**
 * Turns registry changes into API events: a full record when anything but the live sample changed, and
 * a small telemetry event otherwise (once a second per machine, so it must stay small: the static
 * inventory would be most of every message).
 */
export class NodeEventEncoder {
  private readonly sent = new Map<string, unknown[]>();

  encode(node: NodeRecord): ApiEvent {
    const sig = signature(node);
    const last = this.sent.get(node.id);
    if (last && node.telemetry && last.every((v, i) => v === sig[i])) {
      return {
        type: 'nodeTelemetry',
        id: node.id,
        telemetry: node.telemetry,
        lastSeen: node.lastSeen,
        rttMs: node.rttMs,
      };
    }
    this.sent.set(node.id, sig);
    return { type: 'nodeChanged', node };
  }

  forget(id: string): void {
    this.sent.delete(id);
  }
}
