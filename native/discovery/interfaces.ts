import os from 'node:os';

export interface BroadcastTarget {
  iface: string;
  address: string;
  broadcast: string;
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

export function broadcastAddress(address: string, netmask: string): string {
  return intToIp((ipToInt(address) | (~ipToInt(netmask) >>> 0)) >>> 0);
}

/**
 * Where beacons go: every non-internal IPv4 interface, or only the one named (an interface name or one of
 * its addresses). Loopback is only used when named: on it, 127.255.255.255 reaches every local listener,
 * which is how several agents on one machine find each other in tests.
 */
export function broadcastTargets(
  only?: string,
  interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces(),
): BroadcastTarget[] {
  const targets: BroadcastTarget[] = [];
  for (const [name, addrs] of Object.entries(interfaces)) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4') continue;
      if (only !== undefined) {
        if (only !== name && only !== a.address) continue;
      } else if (a.internal) continue;
      targets.push({
        iface: name,
        address: a.address,
        broadcast: broadcastAddress(a.address, a.netmask),
      });
    }
  }
  if (only !== undefined && targets.length === 0) {
    throw new Error(`no IPv4 interface or address named "${only}" on this machine`);
  }
  return targets;
}
