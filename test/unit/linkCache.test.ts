import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { LINK_MAX_AGE_MS, LinkCache } from '../../native/coordinator/linkCache.js';
import type { NodeRecord } from '../../native/coordinator/nodeRecord.js';
import { pairKey } from '../../native/planner/cluster.js';

const node = (id: string, agentStartedAt: number | null = 100) =>
  ({ id, agentStartedAt }) as NodeRecord;
const link = { latencySeconds: 2e-4, bytesPerSecond: 1e8 };
const file = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pf-links-')), 'links.json');

describe('the coordinator’s cache of measured links', () => {
  it('holds a pair either way round for an hour, then not', () => {
    const cache = new LinkCache(null);
    const e = cache.set(node('a'), node('b'), link, 1000);
    assert.equal(cache.fresh(node('b'), node('a'), 1000 + LINK_MAX_AGE_MS), e);
    assert.equal(cache.fresh(node('a'), node('b'), 1001 + LINK_MAX_AGE_MS), null);
    assert.deepEqual(
      cache.linksAmong([node('a'), node('b'), node('c')], 2000),
      new Map([[pairKey('a', 'b'), link]]),
    );
  });

  it('gives the fresh entries with when each was measured', () => {
    const cache = new LinkCache(null);
    cache.set(node('a'), node('b'), link, 1000);
    const entries = cache.entriesAmong([node('b'), node('a'), node('c')], 2000);
    assert.deepEqual([...entries.keys()], [pairKey('a', 'b')]);
    assert.equal(entries.get(pairKey('a', 'b'))!.measuredAt, 1000);
    assert.deepEqual(cache.entriesAmong([node('a'), node('b')], 2001 + LINK_MAX_AGE_MS), new Map());
  });

  it('drops a pair when either agent has restarted since', () => {
    const cache = new LinkCache(null);
    cache.set(node('a', 100), node('b', 200), link, 1000);
    assert.equal(cache.fresh(node('a', 100), node('b', 300), 2000), null);
    assert.equal(cache.fresh(node('a', 101), node('b', 200), 2000), null);
    assert.ok(cache.fresh(node('b', 200), node('a', 100), 2000));
  });

  it('is read back from its file, and a damaged file is no cache rather than an error', () => {
    const f = file();
    new LinkCache(f).set(node('a'), node('b'), link, Date.now());
    assert.deepEqual(
      new LinkCache(f).linksAmong([node('a'), node('b')]),
      new Map([[pairKey('a', 'b'), link]]),
    );
    fs.writeFileSync(f, '{"links": [{"a": "a", "b": 5}]}');
    assert.deepEqual(new LinkCache(f).linksAmong([node('a'), node('b')]), new Map());
    fs.writeFileSync(f, 'not json');
    assert.deepEqual(new LinkCache(f).linksAmong([node('a'), node('b')]), new Map());
  });
});
