import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnUntilReady } from '../../native/util/readyLine.js';

/** A real child process running `script`, its stdout and stderr piped. */
function child(script: string, timeoutMs?: number) {
  const lines: string[] = [];
  let stderr = '';
  const started = spawnUntilReady<{ event: 'ready'; port: number }>(
    process.execPath,
    ['-e', script],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeoutMs,
      onLine: (l) => lines.push(l),
      onStderr: (d) => (stderr += d),
      failure: (end) =>
        new Error(end ? `exited (${end.code ?? end.signal}): ${stderr.trim()}` : 'timed out'),
    },
  );
  return { started, lines };
}

describe('spawnUntilReady', () => {
  it('resolves with the first ready line, past text and other JSON, and keeps reading', async () => {
    const { started, lines } = child(
      `console.log('booting'); console.log(JSON.stringify({ event: 'probe' }));
       console.log(JSON.stringify({ event: 'ready', port: 7 }));
       console.log(JSON.stringify({ event: 'ready', port: 8 }));
       for (let i = 0; i < 2000; i++) console.log('x'.repeat(100));`,
    );
    const { ready, exited } = await started;
    assert.deepEqual(ready, { event: 'ready', port: 7 });
    assert.deepEqual(
      await exited,
      { code: 0, signal: null },
      'the child never blocks on a full pipe',
    );
    assert.equal(lines.length, 4 + 2000);
  });

  it('fails with the caller’s words when the child exits before it is ready', async () => {
    const { started } = child(`console.error('no token'); process.exit(3);`);
    await assert.rejects(started, /^Error: exited \(3\): no token$/);
  });

  it('fails after the timeout and kills the child', async () => {
    const { started } = child(`setTimeout(() => {}, 5000);`, 200);
    await assert.rejects(started, /timed out/);
  });

  it('fails with the spawn error when the executable does not exist', async () => {
    const p = spawnUntilReady('/nonexistent/pipefitter-child', [], {
      stdio: ['ignore', 'pipe', 'pipe'],
      failure: () => new Error('unexpected'),
    });
    await assert.rejects(p, /ENOENT/);
  });
});
