import dgram from 'node:dgram';
import { encodeBeacon, DEFAULT_BEACON_PORT, type Beacon } from './beacon.js';
import { broadcastTargets, type BroadcastTarget } from './interfaces.js';

export interface BeaconSenderOptions {
  beacon: Omit<Beacon, 'version'>;
  /** The lab's beacon key: signs every beacon, so coordinators can tell ours from a stranger's. */
  beaconKey?: Buffer;
  interface?: string;
  port?: number;
  intervalMs?: number;
  /** Extra unicast targets (routed networks where broadcast does not reach). */
  unicast?: string[];
}

/** Announces this agent once a second on each interface's broadcast address. */
export class BeaconSender {
  private socket: dgram.Socket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly payload: Buffer;
  readonly targets: BroadcastTarget[];

  constructor(private readonly opts: BeaconSenderOptions) {
    this.payload = encodeBeacon(opts.beacon, opts.beaconKey);
    this.targets = broadcastTargets(opts.interface);
  }

  async start(): Promise<void> {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    // A send error (interface went down, no route) must never take the agent with it.
    socket.on('error', () => {});
    // Named interface: send from its address, so nothing of ours listens on 0.0.0.0.
    const from = this.opts.interface === undefined ? undefined : this.targets[0]?.address;
    await new Promise<void>((resolve) => socket.bind(0, from, resolve));
    socket.setBroadcast(true);
    socket.unref();
    this.socket = socket;
    this.announce();
    this.timer = setInterval(() => this.announce(), this.opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  private announce(): void {
    const port = this.opts.port ?? DEFAULT_BEACON_PORT;
    const addrs = [...this.targets.map((t) => t.broadcast), ...(this.opts.unicast ?? [])];
    for (const addr of addrs) this.socket?.send(this.payload, port, addr, () => {});
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
