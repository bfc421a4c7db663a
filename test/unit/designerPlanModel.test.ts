import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addReplica,
  addStage,
  commit,
  historyOf,
  moveBoundary,
  moveLayerToStage,
  newDoc,
  placeStage,
  redo,
  removeReplica,
  removeStage,
  setSettings,
  splitAt,
  stageMachineIds,
  stageMachines,
  stageOf,
  stagesOn,
  undo,
} from '../../renderer/designer/planModel.js';
import { validate, type MachineStatus } from '../../renderer/designer/validate.js';

const A = { id: 'a'.repeat(16), name: 'alpha' };
const B = { id: 'b'.repeat(16), name: 'bravo' };
const C = { id: 'c'.repeat(16), name: 'charlie' };

describe('designer plan model: edits', () => {
  it('dragging the end boundary up splits off a new, unplaced last stage', () => {
    const d = moveBoundary(placeStage(newDoc(10), 0, A), 1, 6);
    assert.deepEqual(d.bounds, [0, 6, 10]);
    assert.deepEqual(d.machines, [A, null]);
  });

  it('moves an inner boundary, keeping at least one layer on each side', () => {
    const d = splitAt(splitAt(newDoc(10), 4), 7);
    assert.deepEqual(moveBoundary(d, 1, 2).bounds, [0, 2, 7, 10]);
    assert.deepEqual(moveBoundary(d, 1, 9).bounds, [0, 6, 7, 10]);
    assert.deepEqual(moveBoundary(d, 1, -3).bounds, [0, 1, 7, 10]);
    assert.equal(moveBoundary(d, 1, 4), d, 'no move, same document');
  });

  it('removes a stage by merging it into its neighbour, and never the last stage', () => {
    const d = placeStage(placeStage(splitAt(splitAt(newDoc(9), 3), 6), 0, A), 2, B);
    assert.deepEqual(removeStage(d, 1).bounds, [0, 6, 9]);
    assert.deepEqual(removeStage(d, 1).machines, [A, B]);
    assert.deepEqual(removeStage(d, 0).bounds, [0, 6, 9]);
    assert.deepEqual(removeStage(d, 0).machines, [null, B]);
    const one = newDoc(9);
    assert.equal(removeStage(one, 0), one);
  });

  it('adds a stage by halving the largest stage; a one-layer-per-stage model cannot grow', () => {
    assert.deepEqual(addStage(splitAt(newDoc(10), 2)).bounds, [0, 2, 6, 10]);
    const full = splitAt(newDoc(2), 1);
    assert.equal(addStage(full), full);
  });

  it('moves a layer into a neighbouring stage, with the layers between; never empties a stage', () => {
    const d = splitAt(splitAt(newDoc(9), 3), 6);
    assert.deepEqual(moveLayerToStage(d, 1, 1).bounds, [0, 1, 6, 9]);
    assert.deepEqual(moveLayerToStage(d, 0, 1).bounds, [0, 1, 6, 9], 'stage 1 keeps a layer');
    assert.deepEqual(moveLayerToStage(d, 4, 0).bounds, [0, 5, 6, 9]);
    assert.equal(moveLayerToStage(d, 1, 2), d, 'not a neighbour');
    assert.equal(moveLayerToStage(d, 1, 0), d, 'already there');
  });

  it('knows which stage holds each layer', () => {
    const d = splitAt(splitAt(newDoc(6), 2), 4);
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((i) => stageOf(d, i)),
      [0, 0, 1, 1, 2, 2],
    );
  });

  it('undo and redo walk every edit; an edit that changes nothing is not a step', () => {
    let h = historyOf(newDoc(8));
    const d0 = h.present;
    h = commit(h, splitAt(h.present, 4));
    h = commit(h, placeStage(h.present, 0, A));
    h = commit(h, setSettings(h.present, { batch: 64 }));
    assert.equal(h.past.length, 2);
    const full = h.present;
    h = undo(undo(h));
    assert.equal(h.present, d0);
    assert.equal(undo(h), h);
    h = redo(redo(h));
    assert.equal(h.present, full);
    h = undo(h);
    h = commit(h, setSettings(h.present, { schedule: 'gpipe' }));
    assert.deepEqual(h.future, [], 'a new edit drops the redo stack');
  });
});

describe('designer plan model: replicas', () => {
  const two = () => placeStage(placeStage(splitAt(newDoc(6), 3), 0, A), 1, A);

  it('adds a replica on another machine; the prediction gets the stage’s list of machines', () => {
    const d = addReplica(two(), 1, B);
    assert.deepEqual(stageMachines(d, 1), [A, B]);
    assert.deepEqual(d.machines, [A, A], 'the stage’s first machine stays');
    assert.deepEqual(
      d.machines.map((_, k) => stageMachineIds(d, k)),
      [A.id, [A.id, B.id]],
    );
    assert.deepEqual(stagesOn(d, A.id), [0, 1]);
    assert.deepEqual(stagesOn(d, B.id), [1]);
  });

  it('a machine runs a stage once; a stage on no machine is placed by its first replica', () => {
    const d = addReplica(two(), 1, B);
    assert.equal(addReplica(d, 1, B), d);
    assert.equal(addReplica(d, 1, A), d);
    assert.equal(addReplica(d, 5, C), d, 'no such stage');
    const unplaced = splitAt(newDoc(6), 3);
    assert.deepEqual(addReplica(unplaced, 1, B).machines, [null, B]);
    assert.deepEqual(addReplica(unplaced, 1, B).replicas, [[], []]);
  });

  it('removes a replica; removing the first promotes the next; the last machine stays', () => {
    const d = addReplica(addReplica(two(), 1, B), 1, C);
    assert.deepEqual(stageMachines(removeReplica(d, 1, 1), 1), [A, C]);
    assert.deepEqual(stageMachines(removeReplica(d, 1, 0), 1), [B, C]);
    const back = removeReplica(removeReplica(d, 1, 2), 1, 1);
    assert.deepEqual(stageMachines(back, 1), [A]);
    assert.equal(stageMachineIds(back, 1), A.id, 'one replica again: a plain id');
    assert.equal(removeReplica(back, 1, 0), back, 'the stage keeps its last machine');
    assert.equal(removeReplica(d, 1, 3), d);
  });

  it('a plain move keeps the other replicas; onto one of them, or onto none, drops it', () => {
    const d = addReplica(two(), 1, B);
    assert.deepEqual(stageMachines(placeStage(d, 1, C), 1), [C, B]);
    assert.deepEqual(stageMachines(placeStage(d, 1, B), 1), [B]);
    const none = placeStage(d, 1, null);
    assert.deepEqual(stageMachines(none, 1), []);
    assert.deepEqual(none.replicas, [[], []]);
  });

  it('splitting and merging stages keep each stage’s replicas with it', () => {
    const d = addReplica(two(), 1, B);
    const split = splitAt(d, 1);
    assert.deepEqual(split.replicas, [[], [], [B]]);
    assert.deepEqual(stageMachines(split, 2), [A, B]);
    assert.deepEqual(removeStage(split, 2).replicas, [[], []]);
    assert.deepEqual(removeStage(d, 0).replicas, [[B]]);
    const h = commit(historyOf(two()), d);
    assert.deepEqual(stageMachines(undo(h).present, 1), [A], 'undo removes the replica');
  });
});

describe('designer plan model: validation', () => {
  const online = new Map<string, MachineStatus>([
    [A.id, { name: 'alpha', state: 'online', measured: true }],
    [B.id, { name: 'bravo', state: 'unreachable', measured: true }],
  ]);

  it('names every unplaced stage with a fix', () => {
    const problems = validate(splitAt(newDoc(4), 2), online, null);
    assert.deepEqual(
      problems.map((p) => p.message),
      ['Stage 1 is on no machine.', 'Stage 2 is on no machine.'],
    );
    assert.match(problems[0]!.fix, /Drag stage 1 onto a machine card/);
  });

  it('says when a machine is missing or not online, once per machine', () => {
    let d = splitAt(splitAt(newDoc(6), 2), 4);
    const gone = { id: 'c'.repeat(16), name: 'charlie' };
    d = placeStage(placeStage(placeStage(d, 0, gone), 1, gone), 2, B);
    const problems = validate(d, online, null);
    assert.deepEqual(
      problems.map((p) => p.code),
      ['missing', 'not-online'],
    );
    assert.match(
      problems[0]!.message,
      /^charlie \(cccccccc…\), the machine of stages 1, 2, is not on/,
    );
    assert.match(problems[1]!.message, /bravo, the machine of stage 3, is unreachable/);
  });

  it('checks every replica’s machine, naming the stages it runs', () => {
    let d = placeStage(placeStage(splitAt(newDoc(4), 2), 0, A), 1, A);
    d = addReplica(addReplica(d, 0, B), 1, B);
    const problems = validate(d, online, null);
    assert.deepEqual(
      problems.map((p) => [p.code, p.message]),
      [['not-online', 'bravo, the machine of stages 1, 2, is unreachable.']],
    );
  });

  it('reports the exact memory shortfall and a batch that does not split', () => {
    let d = placeStage(newDoc(3), 0, A);
    d = setSettings(d, { batch: 10, microbatches: 4 });
    const GiB = 1024 ** 3;
    const problems = validate(d, online, [
      { id: A.id, name: 'alpha', usedBytes: 5.5 * GiB, freeBytes: 4 * GiB, stages: [0] },
    ]);
    assert.deepEqual(
      problems.map((p) => p.code),
      ['batch', 'memory'],
    );
    assert.equal(problems[1]!.message, 'alpha needs 1.5 GiB more than its 4.0 GiB free (stage 1).');
  });

  it('finds nothing wrong with a placed layout that fits', () => {
    const d = placeStage(newDoc(3), 0, A);
    assert.deepEqual(
      validate(d, online, [{ id: A.id, name: 'alpha', usedBytes: 1, freeBytes: 2, stages: [0] }]),
      [],
    );
  });
});
