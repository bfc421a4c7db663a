import { after, before } from 'node:test';
import { initBackend } from '../../native/backend/initBackend.js';
import type { Tf } from '../../native/backend/tfTypes.js';
import { Coordinator } from '../../native/coordinator/coordinator.js';
import {
  startAgent,
  stopAgent,
  tempDir,
  testBeaconPort,
  TEST_TOKEN,
  type RunningAgent,
} from './agents.js';

/**
 * A coordinator holding the test token, without beacon discovery, that has added each agent by address
 * (so tests and benches never depend on broadcast timing). The caller stops it.
 */
export async function coordinatorFor(agents: RunningAgent[]): Promise<Coordinator> {
  const coordinator = new Coordinator({ stateDir: tempDir(), token: TEST_TOKEN, discover: false });
  await coordinator.start();
  await Promise.all(
    agents.map((a) => coordinator.addPeer(`127.0.0.1:${a.ready.controlPort}`, { persist: false })),
  );
  return coordinator;
}

/** What `useLab` sets up before a file's tests: the test process's tfjs, agents and a coordinator. */
export interface Lab {
  tf: Tf;
  agents: RunningAgent[];
  coordinator: Coordinator;
}

/**
 * Agents named `${prefix}-1` … `${prefix}-${count}` (wasm in this process for reference training), a
 * coordinator that has added them (with their measured speeds where a test re-plans: `benchmark`),
 * set up before the enclosing suite's tests and torn down after them.
 */
export function useLab(prefix: string, count: number, opts: { benchmark?: boolean } = {}): Lab {
  const lab = { agents: [] as RunningAgent[] } as Lab;
  before(async () => {
    lab.tf = (await initBackend({ prefer: 'wasm' })).tf;
    const beaconPort = testBeaconPort();
    lab.agents.push(
      ...(await Promise.all(
        Array.from({ length: count }, (_, i) =>
          startAgent({ name: `${prefix}-${i + 1}`, beaconPort }),
        ),
      )),
    );
    lab.coordinator = await coordinatorFor(lab.agents);
    // startAgent skips the speed benchmark; a re-plan needs each machine's measured speed.
    if (opts.benchmark)
      for (const a of lab.agents) await lab.coordinator.benchmark(a.ready.nodeId, true);
  });
  after(async () => {
    await lab.coordinator?.stop();
    await Promise.all(lab.agents.map((a) => stopAgent(a, 'SIGKILL')));
  });
  return lab;
}
