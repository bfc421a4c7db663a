import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Coordinator } from '../../native/coordinator/coordinator.js';
import { LinkCache } from '../../native/coordinator/linkCache.js';
import type { RequestError } from '../../native/coordinator/nodeLink.js';
import type { NodeRecord } from '../../native/coordinator/nodeRecord.js';
import { clusterFromNodes } from '../../native/coordinator/nodesToCluster.js';
import { linkBetween, pairKey } from '../../native/planner/cluster.js';
import { MAX_LINK_ECHO_CHARS } from '../../native/protocol/limits.js';
import { ControlType, ErrorCode } from '../../native/protocol/version.js';
import {
  runCli,
  startHostAgents,
  stopAgent,
  tempDir,
  testBeaconPort,
  TEST_TOKEN,
  type RunningAgent,
} from '../helpers/agents.js';
import { createTestLan, netnsUnavailableReason, type TestLan } from '../helpers/netns.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.log(`link measurement tests skipped: ${skipReason}`);

/** Why a netem delay cannot be put on the hosts' interfaces here, or null when it can. */
function netemUnavailableReason(lan: TestLan): string | null {
  try {
    execFileSync('tc', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'the `tc` command (iproute2) is not installed';
  }
  try {
    for (const h of lan.hosts)
      execFileSync(
        'ip',
        [
          'netns',
          'exec',
          h.ns,
          'tc',
          'qdisc',
          'add',
          'dev',
          h.iface,
          'root',
          'netem',
          'delay',
          '5ms',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
  } catch (err) {
    return `cannot add a netem delay: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}`;
  }
  return null;
}

describe(
  'links measured between agents on two hosts (network namespaces)',
  { skip: skipReason ?? false },
  () => {
    let lan: TestLan;
    const agents: RunningAgent[] = [];
    let coordinator: Coordinator;
    let stateDir: string;
    let a: NodeRecord;
    let b: NodeRecord;

    before(async () => {
      lan = createTestLan(2);
      // The coordinator runs in this test's process: an address on the bridge lets it reach both hosts.
      const gateway = lan.subnet.replace(/\.0\/24$/, '.1');
      execFileSync('ip', ['addr', 'add', `${gateway}/24`, 'dev', lan.bridge]);
      const beaconPort = testBeaconPort();
      agents.push(...(await startHostAgents(lan.hosts, beaconPort)));
      stateDir = tempDir();
      coordinator = new Coordinator({ stateDir, token: TEST_TOKEN, discover: false });
      await coordinator.start();
      const added = await Promise.all(
        lan.hosts.map((h) =>
          coordinator.addPeer(`${h.address}:47801`, { persist: false, timeoutMs: 10_000 }),
        ),
      );
      // Their inventories say they are different computers (each namespace has its own MAC).
      const ready = await Promise.all(
        added.map((n) => coordinator.waitFor(n.id, (x) => x.inventory !== null, 10_000)),
      );
      [a, b] = [ready[0]!, ready[1]!];
    });
    after(async () => {
      await coordinator?.stop();
      await Promise.all(agents.map((x) => stopAgent(x, 'SIGKILL')));
      lan?.destroy();
    });

    it('measures the link between them, caches it, and plans with it', async () => {
      const lines: string[] = [];
      const started = performance.now();
      const links = await coordinator.measureLinks([a.id, b.id], { log: (l) => lines.push(l) });
      const ms = performance.now() - started;
      const measured = await coordinator.measureLink(a.id, b.id);
      console.log(
        `host-1 → host-2 measured in ${ms.toFixed(0)} ms: latency ${(measured.latencySeconds * 1e3).toFixed(3)} ms, ` +
          `${((measured.bytesPerSecond * 8) / 1e6).toFixed(0)} Mbit/s (${lines.join('; ')})`,
      );
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /^link host-1 ⇄ host-2: .* ms, .*bit\/s$/);
      for (const v of [measured.latencySeconds, measured.bytesPerSecond])
        assert.ok(Number.isFinite(v) && v > 0, `${v} is a positive figure`);

      // Cached: the same entry comes back, and asking for the pair again measures nothing.
      assert.equal(await coordinator.measureLink(b.id, a.id), measured);
      const again: string[] = [];
      await coordinator.measureLinks([a.id, b.id], { log: (l) => again.push(l) });
      assert.deepEqual(again, []);
      // Kept on disk for the next coordinator on this state dir (each `pipefitter train` is one).
      const file = path.join(stateDir, 'coordinator', 'links.json');
      assert.ok(fs.existsSync(file));
      assert.deepEqual(new LinkCache(file).fresh(a, b), measured);
      // An agent started since (another start time) makes the cached figure stale.
      assert.equal(new LinkCache(file).fresh({ ...a, agentStartedAt: 1 }, b), null);

      const link = {
        latencySeconds: measured.latencySeconds,
        bytesPerSecond: measured.bytesPerSecond,
      };
      assert.deepEqual(links.get(pairKey(a.id, b.id)), link);
      // --no-benchmark agents have no speed: planned as alike, which is enough to see the link.
      const { cluster } = clusterFromNodes(coordinator.nodes(), { assumeUnmeasured: true, links });
      assert.equal(cluster.machines.length, 2);
      assert.notEqual(cluster.machines[0]!.host, cluster.machines[1]!.host);
      assert.deepEqual(linkBetween(cluster, a.id, b.id), link);
    });

    it('`pipefitter nodes --links --json` measures and prints the link', async () => {
      const stdout = await runCli([
        'nodes',
        '--json',
        '--links',
        '--beacon-port',
        String(testBeaconPort()),
        ...lan.hosts.flatMap((h) => ['--peer', `${h.address}:47801`]),
        '--wait',
        '10',
        '--min-nodes',
        '2',
        '--state-dir',
        tempDir(),
        '--token',
        TEST_TOKEN,
      ]);
      const out = JSON.parse(stdout) as {
        nodes: NodeRecord[];
        links: { a: string; b: string; latencySeconds: number; bytesPerSecond: number }[];
      };
      assert.equal(out.nodes.length, 2);
      assert.equal(out.links.length, 1);
      const [l] = out.links;
      assert.deepEqual([l!.a, l!.b].sort(), ['host-1', 'host-2']);
      assert.ok(l!.latencySeconds > 0 && Number.isFinite(l!.bytesPerSecond));
    });

    it('an agent refuses an oversize echo in words over the real socket', async () => {
      await assert.rejects(
        coordinator.request(a.id, ControlType.LinkEcho, {
          data: 'A'.repeat(MAX_LINK_ECHO_CHARS + 4),
        }),
        (err: RequestError) =>
          err.code === ErrorCode.InvalidPayload &&
          /more than the 524288 a link\.echo may carry/.test(err.message),
      );
      // And a peer it cannot reach is an error reply, not a crash: the agent still answers.
      await assert.rejects(
        coordinator.request(
          a.id,
          ControlType.LinkMeasure,
          { peer: { ...b.endpoint, controlPort: 1 } },
          5000,
        ),
        (err: RequestError) =>
          err.code === ErrorCode.Internal && /no answer from/.test(err.message),
      );
      assert.ok(await coordinator.request(a.id, ControlType.Ping, { sentAt: 1 }));
    });

    it('sees a 5 ms delay each way (netem) in the measured latency', async (t) => {
      const why = netemUnavailableReason(lan);
      if (why) {
        console.log(`netem part skipped: ${why}`);
        t.skip(why);
        return;
      }
      const slow = await coordinator.measureLink(a.id, b.id, { force: true });
      console.log(
        `with netem 5 ms each way: latency ${(slow.latencySeconds * 1e3).toFixed(2)} ms, ` +
          `${((slow.bytesPerSecond * 8) / 1e6).toFixed(0)} Mbit/s`,
      );
      assert.ok(
        slow.latencySeconds >= 0.004,
        `latency ${slow.latencySeconds} s reflects the delay`,
      );
      assert.ok(Number.isFinite(slow.bytesPerSecond) && slow.bytesPerSecond > 0);
      // The new figure replaced the cached one.
      assert.equal(await coordinator.measureLink(a.id, b.id), slow);
    });
  },
);
