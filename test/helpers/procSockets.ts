import fs from 'node:fs';

export interface ProcSocket {
  proto: 'tcp' | 'udp' | 'tcp6' | 'udp6';
  /** Local address as text: `127.0.0.1`, `0.0.0.0`, or an IPv6 address in /proc's hex. */
  address: string;
  port: number;
  /** TCP state in /proc's hex (`0A` is LISTEN); UDP sockets are `07`. */
  state: string;
}

function inodesOf(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {
      // closed while we looked
    }
  }
  return out;
}

function ipv4(hex: string): string {
  // /proc writes the address as a host-order (little-endian here) 32-bit number.
  return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');
}

/**
 * The TCP and UDP sockets a process holds: /proc/<pid>/net/* lists the whole network namespace, so
 * rows are matched to the process by the inodes of its socket file descriptors.
 */
export function processSockets(pid: number): ProcSocket[] {
  const mine = inodesOf(pid);
  const out: ProcSocket[] = [];
  for (const proto of ['tcp', 'udp', 'tcp6', 'udp6'] as const) {
    let text = '';
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${proto}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !mine.has(f[9]!)) continue;
      const [addr, port] = f[1]!.split(':');
      out.push({
        proto,
        address: proto.endsWith('6') ? addr! : ipv4(addr!),
        port: parseInt(port!, 16),
        state: f[3]!,
      });
    }
  }
  return out;
}

/** The number of open file descriptors of a process. */
export function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Resident memory of a process in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}
