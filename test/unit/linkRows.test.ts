import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LinkRowSchema, linkRows } from '../../native/coordinator/linkRows.js';
import type { NodeRecord } from '../../native/coordinator/nodeRecord.js';
import { DEFAULT_LINK, pairKey } from '../../native/planner/cluster.js';

const loopbackOf = (bytesPerSecond: number, latencySeconds: number) => ({
  speed: { overhead: { loopback: { bytesPerSecond, latencySeconds } } },
});
/** Just what linkRows reads: id, name, the computer (hostname) and the probe's loopback figure. */
function node(id: string, name: string, host?: string, over: object = {}): NodeRecord {
  return {
    id,
    name,
    inventory: host ? { static: { hostname: host, network: [] } } : null,
    speed: null,
    ...over,
  } as unknown as NodeRecord;
}

describe('the list of links between nodes (linkRows)', () => {
  it('gives each pair once, by name, with how the planner links it', () => {
    const measured = new Map([
      [pairKey('id-c', 'id-a'), { latencySeconds: 3e-4, bytesPerSecond: 9e7, measuredAt: 1234 }],
    ]);
    const nodes = [
      node('id-c', 'charlie', 'pc-2'),
      node('id-b', 'bravo', 'pc-1', loopbackOf(2e9, 1e-4)),
      node('id-a', 'alpha', 'pc-1', loopbackOf(3e9, 5e-5)),
      node('id-d', 'delta'),
    ];
    const { rows, total } = linkRows(nodes, measured);
    assert.equal(total, 6);
    for (const r of rows) LinkRowSchema.parse(r);
    assert.deepEqual(
      rows.map((r) => [`${r.a} ⇄ ${r.b}`, r.kind]),
      [
        ['alpha ⇄ bravo', 'same-computer'],
        ['alpha ⇄ charlie', 'measured'],
        ['alpha ⇄ delta', 'default'],
        ['bravo ⇄ charlie', 'default'],
        ['bravo ⇄ delta', 'default'],
        ['charlie ⇄ delta', 'default'],
      ],
    );
    // One computer: the slower of the two loopback figures, as the planner takes it.
    assert.deepEqual(rows[0], {
      aId: 'id-a',
      a: 'alpha',
      bId: 'id-b',
      b: 'bravo',
      kind: 'same-computer',
      latencySeconds: 1e-4,
      bytesPerSecond: 2e9,
      assumed: false,
    });
    assert.deepEqual(rows[1], {
      aId: 'id-a',
      a: 'alpha',
      bId: 'id-c',
      b: 'charlie',
      kind: 'measured',
      latencySeconds: 3e-4,
      bytesPerSecond: 9e7,
      assumed: false,
      measuredAt: 1234,
    });
    assert.deepEqual(rows[2], {
      aId: 'id-a',
      a: 'alpha',
      bId: 'id-d',
      b: 'delta',
      kind: 'default',
      ...DEFAULT_LINK,
      assumed: true,
    });
  });

  it('plans one computer at the default link until both probes measured loopback', () => {
    const { rows } = linkRows(
      [node('1', 'x', 'pc', loopbackOf(2e9, 1e-4)), node('2', 'y', 'pc')],
      // A measurement between two agents on one computer is never the planner's figure.
      new Map([[pairKey('1', '2'), { latencySeconds: 1, bytesPerSecond: 1 }]]),
    );
    assert.deepEqual(rows, [
      { aId: '1', a: 'x', bId: '2', b: 'y', kind: 'same-computer', ...DEFAULT_LINK, assumed: true },
    ]);
  });

  it('breaks ties in name by id, and stops at the cap while counting every pair', () => {
    const nodes = ['d', 'c', 'b', 'a'].map((id) => node(id, 'same'));
    const { rows, total } = linkRows(nodes, new Map(), 4);
    assert.equal(total, 6);
    assert.deepEqual(
      rows.map((r) => `${r.aId}${r.bId}`),
      ['ab', 'ac', 'ad', 'bc'],
    );
    assert.deepEqual(linkRows([node('a', 'solo')], new Map()), { rows: [], total: 0 });
  });
});
