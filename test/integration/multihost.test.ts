import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { NodeRecord } from '../../native/coordinator/nodeRecord.js';
import {
  runCli,
  startHostAgents,
  stopAgent,
  tempDir,
  TEST_TOKEN,
  type RunningAgent,
} from '../helpers/agents.js';
import { createTestLan, netnsUnavailableReason, type TestLan } from '../helpers/netns.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.log(`multi-host tests skipped: ${skipReason}`);

describe(
  'multi-host discovery over a real bridge with UDP broadcast',
  { skip: skipReason ?? false },
  () => {
    let lan: TestLan;
    const agents: RunningAgent[] = [];

    before(() => {
      lan = createTestLan(4);
    });
    after(async () => {
      await Promise.all(agents.map((a) => stopAgent(a, 'SIGKILL')));
      lan?.destroy();
    });

    it('a coordinator in a fourth namespace discovers agents in three others by broadcast', async () => {
      const beaconPort = 47800; // the real default: each namespace has its own port space
      const agentHosts = lan.hosts.slice(0, 3);
      agents.push(...(await startHostAgents(agentHosts, beaconPort)));
      const coordinatorHost = lan.hosts[3]!;
      const started = Date.now();
      const stdout = await runCli(
        [
          'nodes',
          '--json',
          '--wait',
          '8',
          '--min-nodes',
          '3',
          '--state-dir',
          tempDir(),
          '--token',
          TEST_TOKEN,
        ],
        { netns: coordinatorHost.ns },
      );
      const nodes = JSON.parse(stdout) as NodeRecord[];
      console.log(
        `coordinator found ${nodes.length} hosts in ${Date.now() - started} ms (process start included)`,
      );
      assert.deepEqual(nodes.map((n) => n.name).sort(), ['host-1', 'host-2', 'host-3']);
      for (const n of nodes) {
        const host = agentHosts.find((h) => h.address === n.endpoint.host);
        assert.ok(host, `${n.name} is reached at its namespace address (${n.endpoint.host})`);
        assert.equal(n.state, 'online');
        assert.equal(n.source, 'beacon');
        assert.equal(n.endpoint.controlPort, 47801);
        assert.ok(
          n.inventory?.static.network.some((i) => i.ip4 === host.address),
          'inventory comes from that host',
        );
      }
    });
  },
);
