import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { decodeBeacon, DEFAULT_BEACON_PORT, isAuthenticBeacon, type Beacon } from './beacon.js';
import { StrangerLog, type StrangerSummary } from './strangerLog.js';

export interface DiscoveredBeacon extends Beacon {
  /** The address to reach the agent at: its advertised one, else the datagram's source. */
  host: string;
  /** The datagram's source address. */
  from: string;
  receivedAt: number;
}

export interface BeaconListenerStats {
  accepted: number;
  ignoredForeignCluster: number;
  ignoredVersion: number;
  ignoredGarbage: number;
  /** Beacons of our cluster without a valid tag of the lab's beacon key (only counted with a key). */
  ignoredUnauthenticated: number;
}

interface Events {
  beacon: [DiscoveredBeacon];
  debug: [string];
}

export interface BeaconListenerOptions {
  cluster: string;
  port?: number;
  bindAddress?: string;
  /** The lab's beacon key: beacons not signed with it are dropped before anyone sees them. */
  beaconKey?: Buffer;
}

/** Listens for beacons of one cluster namespace; everything else is counted and dropped. */
export class BeaconListener extends EventEmitter<Events> {
  private socket: dgram.Socket | null = null;
  readonly stats: BeaconListenerStats = {
    accepted: 0,
    ignoredForeignCluster: 0,
    ignoredVersion: 0,
    ignoredGarbage: 0,
    ignoredUnauthenticated: 0,
  };
  /** Who sent unauthenticated beacons, bounded in size however many addresses a flood uses. */
  readonly strangers = new StrangerLog();
  private readonly cluster: string;
  private readonly port: number;
  private readonly bindAddress: string;
  private readonly beaconKey: Buffer | undefined;

  constructor(o: BeaconListenerOptions) {
    super();
    this.cluster = o.cluster;
    this.port = o.port ?? DEFAULT_BEACON_PORT;
    this.bindAddress = o.bindAddress ?? '0.0.0.0';
    this.beaconKey = o.beaconKey;
  }

  async start(): Promise<void> {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    socket.on('message', (msg, rinfo) => {
      // Nothing a datagram holds may throw out of this handler and take the process with it.
      try {
        this.onMessage(msg, rinfo.address);
      } catch (err) {
        this.emit('debug', `beacon from ${rinfo.address} dropped: ${(err as Error).message}`);
      }
    });
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
      return;
    }
    if (decoded.beacon.cluster !== this.cluster) {
      this.stats.ignoredForeignCluster++;
      return;
    }
    if (this.beaconKey && !isAuthenticBeacon(msg, this.beaconKey)) {
      this.stats.ignoredUnauthenticated++;
      this.strangers.record(from, Date.now());
      return;
    }
    this.stats.accepted++;
    this.emit('beacon', {
      ...decoded.beacon,
      host: decoded.beacon.address || from,
      from,
      receivedAt: Date.now(),
    });
  }

  /** Addresses that sent unauthenticated beacons, most recent first. */
  strangerSummary(): StrangerSummary[] {
    return this.strangers.summary();
  }

  async stop(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
