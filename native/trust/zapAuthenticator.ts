import * as zmq from 'zeromq';
import { z85Encode } from '../util/z85.js';

/** Decides, per ZAP domain, whether a CURVE client key may complete its handshake. */
export type ZapPolicy = (clientPublicKey: string, address: string) => boolean;

const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

/**
 * The process's ZAP handler (RFC 27). libzmq asks it about every CURVE handshake on sockets that set a
 * `zapDomain`; one handler serves the whole context, so sockets register a policy per domain.
 */
export class ZapAuthenticator {
  private static instance: ZapAuthenticator | null = null;
  private readonly policies = new Map<string, ZapPolicy>();
  private socket: zmq.Router | null = null;
  readonly stats = { allowed: 0, denied: 0 };

  static async shared(): Promise<ZapAuthenticator> {
    if (!this.instance) {
      const auth = new ZapAuthenticator();
      await auth.start();
      this.instance = auth;
    }
    return this.instance;
  }

  private async start(): Promise<void> {
    this.socket = new zmq.Router({ linger: 0 });
    await this.socket.bind(ZAP_ENDPOINT);
    void this.serve(this.socket);
  }

  setPolicy(domain: string, policy: ZapPolicy): void {
    this.policies.set(domain, policy);
  }

  /** Drops a domain's policy; the handler closes itself once no socket in the process needs it. */
  removePolicy(domain: string): void {
    this.policies.delete(domain);
    if (this.policies.size === 0) this.close();
  }

  private async serve(socket: zmq.Router): Promise<void> {
    try {
      for await (const frames of socket) {
        const [routing, delimiter, version, requestId, domain, address, , mechanism, key] = frames;
        if (!routing || !delimiter || !version || !requestId) continue;
        let allowed = false;
        if (mechanism?.toString() === 'CURVE' && key && key.length === 32) {
          const policy = this.policies.get(domain?.toString() ?? '');
          allowed = policy ? policy(z85Encode(key), address?.toString() ?? '') : false;
        }
        if (allowed) this.stats.allowed++;
        else this.stats.denied++;
        await socket.send([
          routing,
          delimiter,
          '1.0',
          requestId,
          allowed ? '200' : '400',
          allowed ? 'OK' : 'not trusted',
          '',
          '',
        ]);
      }
    } catch {
      // Socket closed at shutdown.
    }
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
    ZapAuthenticator.instance = null;
  }
}
