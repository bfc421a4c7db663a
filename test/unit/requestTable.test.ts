import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestTable } from '../../native/common/requestTable.js';

class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

describe('RequestTable', () => {
  it('matches replies to requests by id, whatever order they come back in', async () => {
    const t = new RequestTable<string>();
    const sent: string[] = [];
    const a = t.request((id) => sent.push(id));
    const b = t.request((id) => sent.push(id));
    assert.equal(sent.length, 2);
    assert.notEqual(sent[0], sent[1]);
    assert.equal(t.resolve(sent[1]!, 'second'), true);
    assert.equal(t.resolve(sent[0]!, 'first'), true);
    assert.deepEqual(await Promise.all([a, b]), ['first', 'second']);
    assert.equal(t.size, 0);
  });

  it('answers an id at most once: a repeated or unknown reply finds nothing', async () => {
    const t = new RequestTable<number>();
    let id = '';
    const p = t.request((i) => (id = i));
    assert.equal(t.resolve(id, 1), true);
    assert.equal(t.resolve(id, 2), false);
    assert.equal(t.reject(id, new Error('late')), false);
    assert.equal(t.resolve('no-such-id', 3), false);
    assert.equal(await p, 1);
  });

  it('times a request out with its own error and forgets it', async () => {
    const t = new RequestTable<string>();
    let id = '';
    const p = t.request((i) => (id = i), {
      timeoutMs: 20,
      timeoutError: () => new CodedError('timeout', 'no answer to ping within 20 ms'),
    });
    await assert.rejects(p, { code: 'timeout', message: 'no answer to ping within 20 ms' });
    assert.equal(t.size, 0);
    assert.equal(t.resolve(id, 'too late'), false);
  });

  it('fails a request whose send throws, or whose send reports failure later', async () => {
    const t = new RequestTable<string>();
    await assert.rejects(
      t.request(() => {
        throw new Error('socket gone');
      }),
      { message: 'socket gone' },
    );
    const later = t.request((id) =>
      setTimeout(() => t.reject(id, new CodedError('not-connected', 'not connected yet')), 1),
    );
    await assert.rejects(later, { code: 'not-connected' });
    assert.equal(t.size, 0);
  });

  it('close() fails every pending request and every later one; failAll() only the pending', async () => {
    const t = new RequestTable<string>();
    const lost = t.request(() => {}, { timeoutMs: 60_000 });
    t.failAll(() => new Error('lost'));
    await assert.rejects(lost, { message: 'lost' });
    let id = '';
    const again = t.request((i) => (id = i));
    t.resolve(id, 'ok');
    assert.equal(await again, 'ok');

    const pending = [t.request(() => {}, { timeoutMs: 60_000 }), t.request(() => {})];
    t.close(() => new CodedError('closed', 'link closed'));
    for (const p of pending) await assert.rejects(p, { code: 'closed', message: 'link closed' });
    let sent = false;
    await assert.rejects(
      t.request(() => (sent = true)),
      { code: 'closed' },
    );
    assert.equal(sent, false, 'a closed table sends nothing');
    assert.equal(t.size, 0);
  });
});
