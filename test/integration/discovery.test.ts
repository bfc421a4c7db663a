import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Coordinator } from '../../native/coordinator/coordinator.js';
import {
  startAgent,
  stopAgent,
  tempDir,
  testBeaconPort,
  TEST_TOKEN,
  waitUntil,
  type RunningAgent,
} from '../helpers/agents.js';

describe('discovery and liveness with real agent processes on loopback', () => {
  const beaconPort = testBeaconPort();
  const agents: RunningAgent[] = [];
  let coordinator: Coordinator | null = null;

  after(async () => {
    await coordinator?.stop();
    await Promise.all(agents.map((a) => stopAgent(a, 'SIGKILL')));
  });

  it('finds three agents, all online with inventory within 5 s', async () => {
    agents.push(
      ...(await Promise.all(
        ['alpha', 'beta', 'gamma'].map((name) => startAgent({ name, beaconPort })),
      )),
    );
    coordinator = new Coordinator({ stateDir: tempDir(), token: TEST_TOKEN, beaconPort });
    await coordinator.start();
    const c = coordinator;
    const elapsed = await waitUntil(
      () => c.nodes().filter((n) => n.state === 'online' && n.inventory !== null).length === 3,
      5000,
      'three agents online with inventory',
    );
    const nodes = c.nodes();
    assert.deepEqual(
      nodes.map((n) => n.name),
      ['alpha', 'beta', 'gamma'],
    );
    for (const n of nodes) {
      const a = agents.find((x) => x.ready.nodeId === n.id)!;
      assert.ok(a, `node ${n.id} is one of ours`);
      assert.equal(n.endpoint.controlPort, a.ready.controlPort);
      assert.equal(n.telemetryPort, a.ready.telemetryPort);
      assert.ok(n.inventory!.static.cpu.cores > 0);
      assert.ok(n.inventory!.static.memory.totalBytes > 0);
      assert.ok(n.rttMs !== null && n.rttMs >= 0);
    }
    console.log(`three agents online with inventory ${elapsed} ms after the coordinator started`);
  });

  it('receives live telemetry about once a second', async () => {
    const c = coordinator!;
    const first = c.nodes().map((n) => n.telemetry?.seq ?? -1);
    await waitUntil(
      () => c.nodes().every((n, i) => (n.telemetry?.seq ?? -1) >= first[i]! + 2),
      4000,
      'two more samples from each agent',
    );
    for (const n of c.nodes()) {
      assert.ok(n.telemetry!.cpuLoad >= 0 && n.telemetry!.cpuLoad <= 1);
      assert.ok(n.telemetry!.memAvailableBytes > 0);
      assert.equal(n.telemetry!.nodeId, n.id);
    }
  });

  it('reports the compute backends each agent probed', async () => {
    const c = coordinator!;
    await waitUntil(
      () => c.nodes().every((n) => n.inventory && !n.inventory.backendsPending),
      30_000,
      'backend probes',
    );
    for (const n of c.nodes()) {
      const wasm = n.inventory!.backends.find((b) => b.name === 'wasm');
      assert.equal(wasm?.available, true, JSON.stringify(n.inventory!.backends));
      const gpu = n.inventory!.backends.find((b) => b.name === 'tensorflow-gpu')!;
      if (!gpu.available)
        assert.ok(gpu.reason && gpu.reason.length > 10, 'an unavailable backend says why');
      assert.ok(n.inventory!.bestBackend);
    }
  });

  it('marks a SIGKILLed agent unreachable within 3 s, and online again with the same id after restart', async () => {
    const c = coordinator!;
    const victim = agents[1]!;
    const id = victim.ready.nodeId;
    const port = victim.ready.controlPort;
    victim.proc.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    await waitUntil(
      () => c.registry.get(id)?.state === 'unreachable',
      3000,
      'the killed agent to become unreachable',
    );
    console.log(`unreachable ${Date.now() - killedAt} ms after SIGKILL`);
    assert.deepEqual(
      c
        .nodes()
        .filter((n) => n.state === 'online')
        .map((n) => n.name),
      ['alpha', 'gamma'],
    );

    const again = await startAgent({
      name: 'beta',
      beaconPort,
      stateDir: victim.stateDir,
      port: port,
    });
    agents[1] = again;
    assert.equal(again.ready.nodeId, id, 'the node id persists in the state dir');
    const back = await waitUntil(
      () => c.registry.get(id)?.state === 'online',
      5000,
      'the restarted agent to be online',
    );
    console.log(`online again ${back} ms after restart`);
    assert.equal(c.nodes().length, 3, 'no duplicate node for the restarted agent');
    assert.equal(c.registry.get(id)!.conflict, null);
  });

  it('follows an agent that restarts on a different port', async () => {
    const c = coordinator!;
    const victim = agents[2]!;
    const id = victim.ready.nodeId;
    victim.proc.kill('SIGKILL');
    await victim.exited;
    const again = await startAgent({ name: 'gamma', beaconPort, stateDir: victim.stateDir });
    agents[2] = again;
    assert.notEqual(again.ready.controlPort, victim.ready.controlPort);
    await waitUntil(
      () =>
        c.registry.get(id)?.state === 'online' &&
        c.registry.get(id)?.endpoint.controlPort === again.ready.controlPort,
      8000,
      'the agent online at its new port',
    );
    assert.equal(c.nodes().length, 3);
  });

  it('stops cleanly on SIGTERM with exit code 0, says goodbye and stops announcing', async () => {
    const a = agents[0]!;
    const c = coordinator!;
    const { code } = await stopAgent(a, 'SIGTERM');
    assert.equal(code, 0);
    await waitUntil(
      () => c.registry.get(a.ready.nodeId)?.state === 'offline',
      1000,
      'the stopped agent to be offline',
    );
    assert.equal(c.registry.get(a.ready.nodeId)!.stateReason, 'the agent stopped');
    // A beacon from an offline node would send it back to 'connecting': none may come.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(c.registry.get(a.ready.nodeId)!.state, 'offline', 'no beacon brought it back');
  });
});
