import { execFileSync } from 'node:child_process';

/**
 * Private test hosts: network namespaces joined by a bridge, made and removed by the test itself. Only
 * addresses inside these namespaces are used; nothing leaves the machine.
 */
export interface TestLan {
  /** `veth`: the host's cable's end on the bridge, in this (the test's) namespace. */
  hosts: { ns: string; iface: string; address: string; veth: string }[];
  subnet: string;
  /** The bridge joining the hosts, in this namespace (give it an address to reach them from here). */
  bridge: string;
  destroy(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Why multi-host tests cannot run here, or null when they can. */
export function netnsUnavailableReason(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'the `ip` command (iproute2) is not installed';
  }
  const probe = `pfprobe${process.pid % 100000}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
  } catch (err) {
    return `cannot create a network namespace here: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}`;
  }
  return null;
}

export function createTestLan(count: number): TestLan {
  const tag = (process.pid % 10000).toString(36) + Math.floor(Math.random() * 36 * 36).toString(36);
  const bridge = `pfbr${tag}`;
  const third = 64 + Math.floor(Math.random() * 128);
  const subnet = `10.231.${third}.0/24`;
  const hosts: TestLan['hosts'] = [];
  const namespaces: string[] = [];
  const destroy = () => {
    for (const ns of namespaces) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
    try {
      ip('link', 'del', bridge);
    } catch {
      // already gone
    }
  };
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('link', 'set', bridge, 'up');
    for (let i = 1; i <= count; i++) {
      const ns = `pf${tag}h${i}`;
      const hostSide = `pf${tag}v${i}`;
      ip('netns', 'add', ns);
      namespaces.push(ns);
      ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'lan0', 'netns', ns);
      ip('link', 'set', hostSide, 'master', bridge);
      ip('link', 'set', hostSide, 'up');
      const address = `10.231.${third}.${10 + i}`;
      ip(
        '-n',
        ns,
        'addr',
        'add',
        `${address}/24`,
        'broadcast',
        `10.231.${third}.255`,
        'dev',
        'lan0',
      );
      ip('-n', ns, 'link', 'set', 'lan0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      hosts.push({ ns, iface: 'lan0', address, veth: hostSide });
    }
  } catch (err) {
    destroy();
    throw err;
  }
  return { hosts, subnet, bridge, destroy };
}
