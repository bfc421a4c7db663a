import type { NodeRecord } from '../coordinator/nodeRecord.js';
import { numberOption, intOption, type Command } from './command.js';
import { startLabCoordinator, trustOptions } from './common.js';
import { formatAgo, formatBytes, formatLatency, formatRate } from '../common/format.js';
import { table } from '../util/format.js';
import { gpuDrives } from '../backend/backendChoice.js';
import type { Link } from '../planner/cluster.js';
import { linkRows } from '../coordinator/linkRows.js';

/** Each measured pair once, by the nodes' names (pairs on one computer are never measured). */
function measuredRows(nodes: NodeRecord[], links: Map<string, Link>) {
  return linkRows(nodes, links)
    .rows.filter((r) => r.kind === 'measured')
    .map(({ a, b, aId, bId, latencySeconds, bytesPerSecond }) => ({
      a,
      b,
      aId,
      bId,
      latencySeconds,
      bytesPerSecond,
    }));
}

function nodeRow(n: NodeRecord, now: number): string[] {
  const inv = n.inventory?.static;
  // Per GPU: which backend drives it and how fast it was measured (the fastest GPU backend on it).
  const drives = gpuDrives(n.inventory?.speeds ?? []);
  const drive = (index: number | null) => {
    const d =
      drives.find((x) => x.gpu === index) ??
      (index === 0 ? drives.find((x) => x.gpu === null) : undefined);
    return d ? ` [${d.backend} ${d.gflops.toFixed(0)} GFLOP/s]` : '';
  };
  const gpus = inv?.gpus.length
    ? inv.gpus
        .map(
          (g) => `${g.model}${g.vramBytes ? ` ${formatBytes(g.vramBytes)}` : ''}${drive(g.index)}`,
        )
        .join(', ')
    : drives.length
      ? drives
          .map((d) => `${d.device ?? 'GPU'} [${d.backend} ${d.gflops.toFixed(0)} GFLOP/s]`)
          .join(', ')
      : (inv?.gpuNote ?? '—');
  const speed = n.speed
    ? `${n.speed.gflops.toFixed(1)} GFLOP/s ${n.speed.backend}`
    : (n.inventory?.bestBackend ?? (n.inventory?.backendsPending ? 'probing…' : '—'));
  return [
    n.name,
    `${n.endpoint.host}:${n.endpoint.controlPort}`,
    n.state + (n.conflict ? ' (ID CONFLICT)' : ''),
    formatAgo(now - n.lastSeen),
    inv ? `${inv.cpu.brand} ×${inv.cpu.cores}` : '—',
    n.telemetry
      ? `${formatBytes(n.telemetry.memTotalBytes - n.telemetry.memAvailableBytes)}/${formatBytes(n.telemetry.memTotalBytes)}`
      : inv
        ? formatBytes(inv.memory.totalBytes)
        : '—',
    gpus,
    speed,
    n.rttMs === null ? '—' : `${n.rttMs} ms`,
  ];
}

export const nodesCommand: Command = {
  name: 'nodes',
  summary: "Find the lab's agents for a few seconds and print what was found.",
  usage: 'nodes [--wait SECONDS] [--json] [--links] [--peer host:port]…',
  options: {
    wait: { type: 'string', valueName: 'seconds', description: 'how long to listen (default 3)' },
    json: {
      type: 'boolean',
      description: 'print one JSON object per node (an array) instead of a table',
    },
    links: {
      type: 'boolean',
      description:
        'also measure the links between agents on different computers (cached for an hour) and print them; with --json the output is { nodes, links }',
    },
    peer: {
      type: 'string',
      multiple: true,
      valueName: 'host:port',
      description: 'also add this agent by address (repeatable)',
    },
    'min-nodes': {
      type: 'string',
      valueName: 'n',
      description: 'stop waiting early once this many nodes are online with inventory',
    },
    ...trustOptions,
  },
  async run(values) {
    const waitS = numberOption(values.wait, 'wait', 0, 3600) ?? 3;
    const minNodes = intOption(values['min-nodes'], 'min-nodes', 1, 100000);
    const coordinator = await startLabCoordinator(values);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitS * 1000);
      if (minNodes !== undefined) {
        coordinator.on('change', () => {
          const ready = coordinator
            .nodes()
            .filter((n) => n.state === 'online' && n.inventory && !n.inventory.backendsPending);
          if (ready.length >= minNodes) {
            clearTimeout(timer);
            resolve();
          }
        });
      }
    });
    const links = values.links
      ? await coordinator.measureLinks(
          coordinator.nodes().map((n) => n.id),
          { log: (line) => process.stderr.write(`${line}\n`) },
        )
      : null;
    const nodes = coordinator.nodes();
    const strangers = coordinator.strangers();
    await coordinator.stop();
    // Never machines of the table (a flood must not fill it): one line per sender, on stderr.
    for (const s of strangers)
      process.stderr.write(
        `${s.beacons} unauthenticated beacon${s.beacons === 1 ? '' : 's'} from ${s.address} (another lab token, an older Pipefitter, or a stranger): ignored\n`,
      );
    if (values.json) {
      const out = links ? { nodes, links: measuredRows(nodes, links) } : nodes;
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    } else if (nodes.length === 0) {
      process.stdout.write(
        `No agents found in cluster "${coordinator.cluster}" within ${waitS} s.\n` +
          'Start one on each workstation with: pipefitter agent --token <the lab token>\n',
      );
    } else {
      const now = Date.now();
      process.stdout.write(
        table(
          ['NAME', 'ADDRESS', 'STATE', 'SEEN', 'CPU', 'MEMORY', 'GPUS', 'SPEED', 'RTT'],
          nodes.map((n) => nodeRow(n, now)),
        ) + '\n',
      );
      for (const n of nodes.filter((x) => x.conflict || x.stateReason))
        process.stdout.write(`${n.name}: ${n.conflict ?? n.stateReason}\n`);
      if (links) {
        const rows = measuredRows(nodes, links);
        process.stdout.write(
          rows.length
            ? '\n' +
                table(
                  ['LINK', 'LATENCY', 'RATE'],
                  rows.map((r) => [
                    `${r.a} ⇄ ${r.b}`,
                    formatLatency(r.latencySeconds),
                    formatRate(r.bytesPerSecond),
                  ]),
                ) +
                '\n'
            : '\nNo link between agents on different computers was measured.\n',
        );
      }
    }
    return 0;
  },
};
