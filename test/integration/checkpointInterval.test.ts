import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trainWithCli, type TrainLine } from '../helpers/cliTraining.js';

type Checkpoint = Extract<TrainLine, { type: 'checkpoint' }>;

const RETUNED =
  /checkpoints every (\d+) steps counted from step (\d+) \(([\d.]+) s at ([\d.]+) ms a step; (.*?); a save stalls ([\d.]+) ms, ([\d.]+)% of the time/;

/**
 * A run not told its checkpoint interval in steps saves its first after 20 steps, which measures what
 * a save stalls, and then by time: `--checkpoint-seconds`, else Young's interval. Every stage takes
 * the new interval from the same step, so every checkpoint after it completes.
 */
describe('checkpoint interval by time', () => {
  const run = (extra: string[]) =>
    trainWithCli([
      '--model',
      'mnist-mlp',
      '--dataset',
      'synthetic',
      '--local',
      '2',
      '--steps',
      '160',
      '--batch',
      '32',
      ...extra,
    ]);

  it('--checkpoint-seconds 0.3: after the first checkpoint, one about every 0.3 s of steps, at the same steps on every stage', async () => {
    const r = await run(['--checkpoint-seconds', '0.3']);
    assert.equal(r.code, 0, r.stderr);
    const log = r.lines.find((l) => l.type === 'log' && RETUNED.test(l.message)) as
      { message: string } | undefined;
    assert.ok(
      log,
      `the interval is set: ${JSON.stringify(r.lines.filter((l) => l.type === 'log'))}`,
    );
    const [, every, from, seconds, stepMs, why] = RETUNED.exec(log.message)!.map(String);
    assert.equal(why, '--checkpoint-seconds 0.3');
    assert.equal(Number(seconds), 0.3);
    assert.equal(Number(every), Math.max(1, Math.round(300 / Number(stepMs))));
    const steps = r.lines
      .filter((l): l is Checkpoint => l.type === 'checkpoint')
      .map((c) => c.step);
    assert.equal(steps[0], 20, 'the first checkpoint measures a save');
    const later = steps.filter((s) => s > Number(from));
    assert.ok(later.length >= 1, `checkpoints after the change: ${steps.join(', ')}`);
    for (const s of later)
      assert.equal((s - Number(from)) % Number(every), 0, `step ${s}: every ${every} from ${from}`);
    console.log(
      `--checkpoint-seconds 0.3: every ${every} steps at ${Number(stepMs).toFixed(1)} ms a step; complete checkpoints at ${steps.join(', ')}`,
    );
  });

  it("by default: Young's interval from the measured save, said in the run's log", async () => {
    const r = await run([]);
    assert.equal(r.code, 0, r.stderr);
    const log = r.lines.find((l) => l.type === 'log' && RETUNED.test(l.message)) as
      { message: string } | undefined;
    assert.ok(log, 'the interval is set');
    const m = RETUNED.exec(log.message)!;
    assert.match(
      m[5]!,
      /^Young's √\(2 × [\d.]+ ms save × MTBF [\d.]+ h: 24 h per machine assumed, 2 machines\)$/,
    );
    assert.ok(Number(m[7]) <= 3, `a save costs ≤ 3% of the time between checkpoints: ${m[7]}%`);
    console.log(`default: ${log.message}`);
  });
});
