import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from '../../native/coordinator/registry.js';
import { machinesNotOnline, type StagePlace } from '../../native/coordinator/runPreflight.js';

/** A registry with `on` online and `gone` unreachable (with a reason); `ghost` was never found. */
function lab(): Registry {
  const r = new Registry();
  for (const id of ['on', 'gone'])
    r.announce(
      {
        id,
        name: `ws-${id}`,
        cluster: 'default',
        endpoint: { host: '10.0.0.1', controlPort: 47801, publicKey: 'K'.repeat(40) },
        source: 'beacon',
      },
      0,
    );
  for (const id of ['on', 'gone'])
    r.helloAnswered(
      id,
      { name: `ws-${id}`, telemetryPort: 47802, agentVersion: '0.1.0', rttMs: 1 },
      0,
    );
  r.markUnreachable('gone', 'no answer for 2 s', 10);
  return r;
}

const places: StagePlace[] = [
  { stage: 0, machineId: 'on', machineName: 'ws-on' },
  { stage: 1, machineId: 'gone', machineName: 'ws-gone' },
  { stage: 2, machineId: 'ghost', machineName: 'ghost-box' },
];

describe('the one "machines online" check', () => {
  it("names every stage whose machine is not online, in stage order, in the run's words", () => {
    assert.deepEqual(machinesNotOnline(lab(), places, 'run'), [
      'stage 1 is placed on ws-gone, which is unreachable (no answer for 2 s)',
      'stage 2 is placed on machine ghost, which this coordinator has not found',
    ]);
  });

  it("speaks the app's and the CLI's words", () => {
    assert.deepEqual(machinesNotOnline(lab(), places, 'app'), [
      'stage 1 is planned on ws-gone, which is unreachable (no answer for 2 s)',
      'stage 2 is planned on ghost-box, which this app has not found',
    ]);
    assert.deepEqual(machinesNotOnline(lab(), places, 'cli'), [
      'stage 1 is planned on ws-gone (gone), which is unreachable',
      'stage 2 is planned on ghost-box (ghost), which is not found on the network',
    ]);
  });

  it('is empty when every machine is online', () => {
    assert.deepEqual(machinesNotOnline(lab(), places.slice(0, 1), 'app'), []);
  });
});
