import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { decodeBeacon, DEFAULT_BEACON_PORT, type Beacon } from './beacon.js';

export interface DiscoveredBeacon extends Beacon {
  /** The address to reach the agent at: its advertised one, else the datagram's source. */
  host: string;
  receivedAt: number;
}

export interface BeaconListenerStats {
  accepted: number;
  ignoredForeignCluster: number;
  ignoredVersion: number;
  ignoredGarbage: number;
}

interface Events {
  beacon: [DiscoveredBeacon];
  debug: [string];
}

/** Listens for beacons of one cluster namespace; everything else is counted and dropped. */
export class BeaconListener extends EventEmitter<Events> {
  private socket: dgram.Socket | null = null;
  readonly stats: BeaconListenerStats = {
    accepted: 0,
    ignoredForeignCluster: 0,
    ignoredVersion: 0,
    ignoredGarbage: 0,
  };

  constructor(
    private readonly cluster: string,
    private readonly port = DEFAULT_BEACON_PORT,
    private readonly bindAddress = '0.0.0.0',
  ) {
    super();
  }

  async start(): Promise<void> {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address));
    socket.on('error', (err) => this.emit('debug', `beacon socket error: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.port, this.bindAddress, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.socket = socket;
  }

  private onMessage(msg: Buffer, from: string): void {
    const decoded = decodeBeacon(msg);
    if (!decoded.ok) {
      if (decoded.reason === 'version') this.stats.ignoredVersion++;
      else this.stats.ignoredGarbage++;
      this.emit('debug', `ignored datagram from ${from}: ${decoded.reason}`);
      return;
    }
    if (decoded.beacon.cluster !== this.cluster) {
      this.stats.ignoredForeignCluster++;
      this.emit('debug', `ignored beacon of cluster "${decoded.beacon.cluster}" from ${from}`);
      return;
    }
    this.stats.accepted++;
    this.emit('beacon', {
      ...decoded.beacon,
      host: decoded.beacon.address || from,
      receivedAt: Date.now(),
    });
  }

  async stop(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
