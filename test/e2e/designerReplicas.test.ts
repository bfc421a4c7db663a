import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { RunEventRecord } from '../../native/common/runEvents.js';
import { parsePlan } from '../../native/planner/planSchema.js';
import {
  ARTIFACTS,
  centre,
  drag,
  machineCard,
  openDesigner,
  useDesignerLab,
} from '../helpers/designerPage.js';

const STEPS = 30;

describe('Designer replicas in browser mode, two real agents', () => {
  const lab = useDesignerLab([
    ['alpha', 20],
    ['bravo', 10],
  ]);

  /** Waits until the prediction shows stage 1 on `n` replicas (the engine answered for this layout). */
  const predictedReplicas = (n: number) =>
    lab.page
      .locator(`[data-testid="predicted-stage-1"][data-replicas="${n}"]`)
      .waitFor({ timeout: 10_000 });
  const allReduceBars = () =>
    lab.page.locator('[data-testid="timeline"] rect[data-op="ALLREDUCE"]');

  it('adds a replica by dropping a stage on a second machine, removes it, adds it by keyboard, and trains on both', async () => {
    await openDesigner(lab, 'mnist-mlp');
    const card = (n: string) => machineCard(lab.page, n);

    // Two stages: dense_1 … dense_2 on alpha, dense_3 on bravo (plain drops move a stage, as ever).
    await lab.page.getByTestId('boundary-end').focus();
    await lab.page.keyboard.press('ArrowUp');
    assert.equal(await lab.page.getByTestId('stage-2-layers').textContent(), 'dense_3');
    const stageChip = (k: number) =>
      lab.page.getByRole('button', { name: `Drag stage ${k} onto a machine` });
    await drag(lab.page, stageChip(1), await centre(card('alpha')));
    await drag(lab.page, stageChip(2), await centre(card('bravo')));
    await predictedReplicas(1);
    assert.equal(await allReduceBars().count(), 0);

    // Stage 1 dropped on bravo's "+ replica": it runs on alpha and bravo.
    await drag(lab.page, stageChip(1), await centre(lab.page.getByTestId('replica-target-bravo')));
    await predictedReplicas(2);
    assert.equal(
      await lab.page.getByRole('combobox', { name: 'Machine for stage 1' }).inputValue(),
      lab.agents[0]!.ready.nodeId,
      'stage 1 stays on alpha',
    );
    assert.equal(await lab.page.getByTestId('stage-1-replicas').textContent(), '× 2 replicas');
    assert.match(
      (await lab.page.getByTestId('predicted-stage-1').textContent()) ?? '',
      /^Stage 1: alpha \+ bravo × 2 replicas, all-reduce [\d.]+ (µs|ms|s) a step$/,
    );
    await lab.page.getByTestId('stage-1-allreduce').waitFor();
    // The simulated step draws the replicas' all-reduce, and says so in words.
    assert.ok((await allReduceBars().count()) >= 1);
    assert.equal(await allReduceBars().first().getAttribute('data-stage'), '0');
    assert.match(
      (await lab.page.getByTestId('timeline-allreduce').textContent()) ?? '',
      /all-reduce: stage 1 /,
    );
    // Each replica holds the whole stage: bravo's memory counts stage 1 as well as its own stage 2.
    assert.match(
      (await card('bravo').locator('.machine-stages').textContent()) ?? '',
      /Stage 1 \(replica\).*Stage 2|Stage 2.*Stage 1 \(replica\)/,
    );
    await lab.page.getByTestId('memory-bravo').waitFor();
    await lab.page.screenshot({ path: path.join(ARTIFACTS, 'designer-replica-1440x1000.png') });

    // Local SGD every 5 steps: the prediction carries a fifth of the all-reduce a step and says so;
    // stage 2 runs once, so the problems say local SGD cannot run this layout. Then back to every step.
    const throughput = async () =>
      parseFloat((await lab.page.getByTestId('predicted-throughput').textContent()) ?? '');
    const everyStep = await throughput();
    const sync = lab.page.getByRole('combobox', { name: 'Replicas sync' });
    await sync.selectOption('local');
    const h = lab.page.getByRole('spinbutton', { name: 'Local SGD every (steps)' });
    await h.fill('0');
    assert.match(
      (await lab.page.getByTestId('sync-every-error').textContent()) ?? '',
      /H must be a whole number from 1 to 1,000,000/,
    );
    await h.fill('5');
    await h.press('Enter');
    const stage1 = lab.page.getByTestId('predicted-stage-1');
    await stage1.filter({ hasText: 'every 5 steps' }).waitFor({ timeout: 10_000 });
    assert.equal(await lab.page.getByTestId('sync-every-error').count(), 0);
    assert.match(
      (await stage1.textContent()) ?? '',
      /^Stage 1: alpha \+ bravo × 2 replicas, all-reduce [\d.]+ (µs|ms|s) every 5 steps \(local SGD\)$/,
    );
    assert.match(
      (await lab.page.getByTestId('timeline-allreduce').textContent()) ?? '',
      /every 5 steps \(local SGD\)/,
    );
    const local = await throughput();
    assert.ok(local >= everyStep, `local SGD ${local} ≥ every step ${everyStep} samples/s`);
    const syncProblem = lab.page.locator('[data-testid="problems"] li[data-code="sync"]');
    await syncProblem.waitFor();
    assert.match(
      (await syncProblem.textContent()) ?? '',
      /local SGD needs every stage on the same number \(≥ 2\) of replicas/i,
    );
    assert.ok(await lab.page.getByRole('button', { name: 'Start run…' }).isDisabled());
    await sync.selectOption('every-step');
    await stage1.filter({ hasText: /a step$/ }).waitFor({ timeout: 10_000 });
    await syncProblem.waitFor({ state: 'detached' });

    // The chip's × removes the replica: back to one.
    await lab.page.getByRole('button', { name: 'Remove the replica of stage 1 on bravo' }).click();
    await predictedReplicas(1);
    assert.equal(await lab.page.getByTestId('stage-1-replicas').count(), 0);
    assert.equal(await allReduceBars().count(), 0);
    assert.doesNotMatch(
      (await card('bravo').locator('.machine-stages').textContent()) ?? '',
      /Stage 1/,
    );

    // By keyboard: Tab from the stage's machine list to "+ replica", Enter, Enter on bravo.
    await lab.page.getByRole('combobox', { name: 'Machine for stage 1' }).focus();
    await lab.page.keyboard.press('Tab');
    const focused = () =>
      lab.page.evaluate(() => {
        const el = document.activeElement;
        return el?.getAttribute('aria-label') ?? el?.textContent ?? null;
      });
    assert.equal(await focused(), 'Add a replica of stage 1…');
    await lab.page.keyboard.press('Enter');
    const choices = lab.page.getByRole('group', { name: 'Add a replica of stage 1 on' });
    await choices.waitFor();
    assert.deepEqual(await choices.getByRole('button').allTextContents(), ['bravo']);
    assert.equal(await focused(), 'bravo');
    await lab.page.keyboard.press('Enter');
    await predictedReplicas(2);
    assert.equal(await choices.count(), 0, 'the choices close');
    assert.equal(await focused(), 'Add a replica of stage 1…', 'focus goes back to the button');
    assert.ok((await allReduceBars().count()) >= 1);

    // A saved plan writes both machines into the stage's replicas, and opens with them again.
    await lab.page.getByRole('textbox', { name: 'Plan name' }).fill('replicas');
    await lab.page.getByRole('button', { name: 'Save plan' }).click();
    await lab.page.getByTestId('save-status').waitFor();
    const file = path.join(lab.web.stateDir, 'plans', 'replicas.json');
    const saved = parsePlan(JSON.parse(fs.readFileSync(file, 'utf8')), file);
    assert.deepEqual(
      saved.stages.map((s) => s.replicas.map((r) => r.machineName)),
      [['alpha', 'bravo'], ['bravo']],
    );
    await lab.page.getByRole('button', { name: 'Remove the replica of stage 1 on bravo' }).click();
    await predictedReplicas(1);
    await lab.page.getByRole('button', { name: 'Open plan replicas' }).click();
    await predictedReplicas(2);
    assert.equal(await lab.page.getByTestId('stage-1-replicas').textContent(), '× 2 replicas');

    // Start the run from the designer: the plan it sends has both replicas.
    const start = lab.page.getByRole('button', { name: 'Start run…', disabled: false });
    await start.waitFor({ timeout: 10_000 });
    await start.click();
    const dialog = lab.page.getByRole('dialog', { name: 'Start a run' });
    await dialog.waitFor();
    assert.match((await dialog.textContent()) ?? '', /2 stages on alpha, bravo/);
    assert.equal(await dialog.getByLabel('Dataset').inputValue(), 'mnist');
    await dialog.getByLabel('Name').fill('replicas from the designer');
    await dialog.getByLabel('epochs or steps').selectOption('steps');
    await dialog.getByLabel('number of steps').fill(String(STEPS));
    await dialog.getByRole('button', { name: 'Start' }).click();
    await lab.page.getByTestId('run-page').waitFor({ timeout: 60_000 });

    // The run page lists both processes of stage 0, on both machines.
    const processes = lab.page.locator('[data-testid="run-process"][data-stage="0"]');
    await lab.page
      .locator('[data-testid="run-process"][data-stage="0"][data-replica="1"]')
      .waitFor({ timeout: 60_000 });
    const lines = await processes.allTextContents();
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^stage 0 · replica 0 alpha/);
    assert.match(lines[1]!, /^stage 0 · replica 1 bravo/);

    // Steps advance; the timeline has a row per replica, each with its all-reduce.
    await lab.page
      .locator('[data-testid="run-page"][data-status="completed"]')
      .waitFor({ timeout: 180_000 });
    for (const r of [0, 1])
      assert.ok(
        (await lab.page
          .locator(
            `[data-testid="timeline-stage"][data-stage="0"][data-replica="${r}"] rect[data-op="ALLREDUCE"]`,
          )
          .count()) >= 1,
        `replica ${r} of stage 0 shows its all-reduce`,
      );
    assert.equal(await lab.page.getByTestId('timeline-stage').count(), 3, 'stage 0 × 2, stage 1');
    const first = Number(await lab.page.getByTestId('loss-chart').getAttribute('data-first-loss'));
    const last = Number(await lab.page.getByTestId('loss-chart').getAttribute('data-last-loss'));
    assert.ok(last < first, `the loss falls: ${first} → ${last}`);
    await lab.page.screenshot({
      path: path.join(ARTIFACTS, 'designer-replica-run-1440x1000.png'),
      fullPage: true,
    });

    // The run's own record: two processes of stage 0, every step, each with the all-reduce.
    const runs = fs.readdirSync(path.join(lab.web.stateDir, 'runs'));
    assert.equal(runs.length, 1);
    const events = fs
      .readFileSync(path.join(lab.web.stateDir, 'runs', runs[0]!, 'run.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; event?: RunEventRecord })
      .flatMap((r) => (r.kind === 'event' && r.event ? [r.event] : []));
    const started = events.find((e) => e.type === 'started');
    assert.ok(started?.type === 'started');
    assert.deepEqual(
      started.stages
        .filter((s) => s.index === 0)
        .map((s) => [s.replica, s.node.split(' ')[0]])
        .sort(),
      [
        [0, 'alpha'],
        [1, 'bravo'],
      ],
    );
    const steps = events.flatMap((e) => (e.type === 'step' ? [e] : []));
    assert.equal(steps.length, STEPS);
    for (const r of [0, 1])
      assert.ok(
        steps.at(-1)!.timings.some((t) => t.stage === 0 && t.replica === r && t.op === 'ALLREDUCE'),
        `stage 0 replica ${r} timed its all-reduce`,
      );
  });
});
