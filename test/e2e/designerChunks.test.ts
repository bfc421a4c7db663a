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

describe('Designer: interleaved 1F1B in browser mode, two real agents', () => {
  const lab = useDesignerLab([
    ['alpha', 20],
    ['bravo', 20],
  ]);

  const stageText = (k: number) => lab.page.getByTestId(`stage-${k}-layers`).textContent();
  const chunksField = () => lab.page.getByRole('spinbutton', { name: 'Chunks per stage' });
  const bubble = async () =>
    Number(
      ((await lab.page.getByTestId('predicted-bubble').textContent()) ?? '').replace(' %', ''),
    );

  it('splits two stages into chunks, shows them and their actions, refuses in words, saves them, and trains them', async () => {
    await openDesigner(lab, 'deep-mlp');
    const card = (n: string) => machineCard(lab.page, n);

    // Two stages, on alpha and bravo, under 1F1B first.
    await lab.page.getByTestId('boundary-end').focus();
    await lab.page.keyboard.press('ArrowUp');
    for (const [k, n] of [
      [1, 'alpha'],
      [2, 'bravo'],
    ] as const)
      await drag(
        lab.page,
        lab.page.getByRole('button', { name: `Drag stage ${k} onto a machine` }),
        await centre(card(n)),
      );
    await lab.page.getByTestId('predicted-bubble').waitFor({ timeout: 10_000 });
    assert.equal(await chunksField().count(), 0, 'no Chunks setting for 1F1B');
    const oneF = await bubble();

    // Interleaved: 2 chunks a stage by default, split by cost; nothing to drag.
    await lab.page.getByRole('combobox', { name: 'Schedule' }).selectOption('interleaved-1f1b');
    assert.equal(await chunksField().inputValue(), '2');
    await lab.page.waitForFunction(
      () =>
        / \(2 chunks, \d+ layers\)$/.test(
          document.querySelector('[data-testid="stage-1-layers"]')?.textContent ?? '',
        ),
      undefined,
      { timeout: 10_000 },
    );
    assert.match((await stageText(1)) ?? '', /^dense_1.* · .*\(2 chunks, \d+ layers\)$/);
    assert.match((await stageText(2)) ?? '', /dense_out \(2 chunks, \d+ layers\)$/);
    await lab.page.getByTestId('chunks-note').waitFor();
    assert.equal(await lab.page.getByTestId('boundary-end').count(), 0, 'no boundaries to drag');
    // The timeline names each chunk's actions.
    await lab.page.locator('[data-testid="timeline"] rect[data-label="F0.1"]').first().waitFor();
    assert.ok((await bubble()) < oneF, 'a smaller bubble than 1F1B');
    assert.equal(await lab.page.getByTestId('problems').count(), 0);
    await lab.page.screenshot({ path: path.join(ARTIFACTS, 'designer-interleaved-1440x1000.png') });

    // Checked as typed: 1 chunk is not interleaving.
    await chunksField().fill('1');
    await lab.page.getByTestId('chunks-error').waitFor();
    assert.match((await lab.page.getByTestId('chunks-error').textContent()) ?? '', /from 2 to 16/);
    // 5 chunks of 2 stages need 10 layers: the planner's words, no prediction, no crash.
    await chunksField().fill('5');
    await chunksField().press('Enter');
    await lab.page.getByTestId('no-prediction').waitFor({ timeout: 10_000 });
    assert.match(
      (await lab.page.getByTestId('no-prediction').textContent()) ?? '',
      /need 10 layers .* use 4 chunks or fewer/,
    );
    // Undo: back to 2 chunks and a prediction.
    await lab.page.getByRole('button', { name: 'Undo' }).click();
    await lab.page.getByTestId('predicted-bubble').waitFor({ timeout: 10_000 });
    assert.equal(await chunksField().inputValue(), '2');

    // Saved, the plan carries each stage's chunks.
    await lab.page.getByRole('textbox', { name: 'Plan name' }).fill('interleaved');
    await lab.page.getByRole('button', { name: 'Save plan' }).click();
    await lab.page.getByTestId('save-status').waitFor();
    const file = path.join(lab.web.stateDir, 'plans', 'interleaved.json');
    const saved = parsePlan(JSON.parse(fs.readFileSync(file, 'utf8')), file);
    assert.equal(saved.schedule, 'interleaved-1f1b');
    assert.deepEqual(
      saved.stages.map((s) => [s.chunks.length, s.machineName]),
      [
        [2, 'alpha'],
        [2, 'bravo'],
      ],
    );

    // Opened again after a reload: the same chunks, predicted as they were.
    const before = await stageText(1);
    await lab.page.reload();
    await lab.page.getByRole('button', { name: 'Designer' }).click();
    await lab.page.getByRole('button', { name: 'Open plan interleaved' }).click();
    await lab.page.getByTestId('predicted-bubble').waitFor({ timeout: 10_000 });
    assert.equal(await chunksField().inputValue(), '2');
    await lab.page.waitForFunction(
      (t) => document.querySelector('[data-testid="stage-1-layers"]')?.textContent === t,
      before,
      { timeout: 10_000 },
    );

    // Run from the designer: each stage process holds its two chunks, and the run's timeline shows
    // the actions of chunk 1 as well as chunk 0's.
    const start = lab.page.getByRole('button', { name: 'Start run…', disabled: false });
    await start.waitFor({ timeout: 10_000 });
    await start.click();
    const dialog = lab.page.getByRole('dialog', { name: 'Start a run' });
    await dialog.waitFor();
    await dialog.getByLabel('Name').fill('interleaved from the designer');
    await dialog.getByLabel('epochs or steps').selectOption('steps');
    await dialog.getByLabel('number of steps').fill('6');
    await dialog.getByRole('button', { name: 'Start' }).click();
    await lab.page.getByTestId('run-page').waitFor({ timeout: 60_000 });
    await lab.page
      .locator('[data-testid="run-page"][data-status="completed"]')
      .waitFor({ timeout: 180_000 });
    for (const k of [0, 1])
      for (const c of [0, 1])
        assert.ok(
          (await lab.page
            .locator(`[data-testid="timeline-stage"][data-stage="${k}"] rect[data-chunk="${c}"]`)
            .count()) >= 1,
          `stage ${k} shows chunk ${c}'s actions`,
        );
    const runs = fs.readdirSync(path.join(lab.web.stateDir, 'runs'));
    const started = fs
      .readFileSync(path.join(lab.web.stateDir, 'runs', runs[0]!, 'run.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; event?: RunEventRecord })
      .flatMap((r) => (r.kind === 'event' && r.event?.type === 'started' ? [r.event] : []))[0];
    assert.ok(started?.type === 'started');
    assert.deepEqual(
      started.stages.map((st) => st.chunks?.length),
      [2, 2],
    );
  });
});
