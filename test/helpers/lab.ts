import { Coordinator } from '../../native/coordinator/coordinator.js';
import { tempDir, TEST_TOKEN, type RunningAgent } from './agents.js';

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
