import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parsePlan } from '../../native/planner/planSchema.js';
import {
  ARTIFACTS,
  centre,
  drag,
  machineCard,
  openDesigner,
  useDesignerLab,
} from '../helpers/designerPage.js';
import { trainPlanLocally } from '../helpers/cliTraining.js';
import { bigModelJson } from '../helpers/bigModel.js';

describe('Designer in browser mode, two real agents', () => {
  const lab = useDesignerLab([
    ['alpha', 20],
    ['bravo', 10],
  ]);

  const stageText = (k: number) => lab.page.getByTestId(`stage-${k}-layers`).textContent();
  const throughput = () => lab.page.getByTestId('predicted-throughput').textContent();
  const layout = async () =>
    Promise.all(
      [1, 2, 3, 4].map(async (k) => {
        const lane = lab.page.getByRole('group', { name: `Stage ${k}`, exact: true });
        if ((await lane.count()) === 0) return null;
        return `${await stageText(k)} @ ${await lane.getByRole('combobox').inputValue()}`;
      }),
    );

  it('lays out deep-mlp on two machines by dragging, predicts, auto-partitions, undoes, saves and loads', async () => {
    await openDesigner(lab, 'deep-mlp');

    // Drag the model's end boundary up to the gap after dense_2: two stages.
    const row3 = await lab.page.getByRole('listitem', { name: /^Layer dense_3,/ }).boundingBox();
    await drag(lab.page, lab.page.getByTestId('boundary-end'), {
      x: row3!.x + 200,
      y: row3!.y + 2,
    });
    assert.equal(await stageText(1), 'dense_1 … dense_2 (2 layers)');
    assert.equal(await stageText(2), 'dense_3 … dense_out (7 layers)');

    // Each stage onto a different machine card.
    const card = (n: string) => machineCard(lab.page, n);
    await drag(
      lab.page,
      lab.page.getByRole('button', { name: 'Drag stage 1 onto a machine' }),
      await centre(card('alpha')),
    );
    await drag(
      lab.page,
      lab.page.getByRole('button', { name: 'Drag stage 2 onto a machine' }),
      await centre(card('bravo')),
    );

    await lab.page.getByTestId('predicted-throughput').waitFor({ timeout: 5000 });
    assert.match((await throughput()) ?? '', /^\d+(\.\d)? samples\/s$/);
    for (const name of ['alpha', 'bravo'])
      assert.equal(await lab.page.getByTestId(`memory-${name}`).getAttribute('data-fits'), 'true');
    assert.equal(await lab.page.getByTestId('problems').count(), 0);
    await lab.page.getByTestId('timeline').waitFor();
    const mine = { layout: await layout(), throughput: await throughput() };
    assert.deepEqual(
      mine.layout.slice(0, 2).map((s) => s?.split(' @ ')[0]),
      ['dense_1 … dense_2 (2 layers)', 'dense_3 … dense_out (7 layers)'],
    );
    await lab.page.screenshot({ path: path.join(ARTIFACTS, 'designer-manual-1440x1000.png') });

    // Auto-partition: a different layout and prediction, with the gain over ours said in words.
    await lab.page.getByRole('button', { name: 'Auto-partition', exact: true }).click();
    await lab.page.getByTestId('auto-result').waitFor({ timeout: 5000 });
    assert.match(
      (await lab.page.getByTestId('auto-result').textContent()) ?? '',
      /% over your layout/,
    );
    await lab.page.waitForFunction(
      (before) =>
        document.querySelector('[data-testid="predicted-throughput"]')?.textContent !== before,
      mine.throughput,
      { timeout: 5000 },
    );
    const auto = { layout: await layout(), throughput: await throughput() };
    assert.notDeepEqual(auto.layout, mine.layout);
    await lab.page.screenshot({ path: path.join(ARTIFACTS, 'designer-auto-1440x1000.png') });

    // Undo restores our layout and its prediction.
    await lab.page.getByRole('button', { name: 'Undo' }).click();
    await lab.page.waitForFunction(
      (t) => document.querySelector('[data-testid="predicted-throughput"]')?.textContent === t,
      mine.throughput,
      { timeout: 5000 },
    );
    assert.deepEqual(await layout(), mine.layout);

    // Save, reload the page, load: the same plan.
    await lab.page.getByRole('textbox', { name: 'Plan name' }).fill('e2e-plan');
    await lab.page.getByRole('button', { name: 'Save plan' }).click();
    await lab.page.getByTestId('save-status').waitFor();
    const file = path.join(lab.web.stateDir, 'plans', 'e2e-plan.json');
    const saved = parsePlan(JSON.parse(fs.readFileSync(file, 'utf8')), file);
    assert.deepEqual(
      saved.stages.map((s) => [s.layers, s.machineName]),
      [
        [[0, 2], 'alpha'],
        [[2, 9], 'bravo'],
      ],
    );

    await lab.page.reload();
    await lab.page.getByRole('button', { name: 'Designer' }).click();
    await lab.page.getByRole('button', { name: 'Open plan e2e-plan' }).click();
    await lab.page.getByTestId('predicted-throughput').waitFor({ timeout: 5000 });
    assert.deepEqual(await layout(), mine.layout);
    assert.equal(await throughput(), mine.throughput);

    // The saved file is the plan-file format: `pipefitter train --plan` takes it as it is.
    const lines = trainPlanLocally('deep-mlp', file, 2) as {
      type: string;
      stages?: { layers: number[] }[];
    }[];
    const started = lines.find((l) => l.type === 'started');
    assert.deepEqual(
      started?.stages?.map((s) => s.layers),
      [
        [0, 2],
        [2, 9],
      ],
    );
    assert.equal(lines.filter((l) => l.type === 'step').length, 2);
  });

  it('does by keyboard what drag does, and names what is wrong with a fix', async () => {
    // Arrow keys move a boundary; the end boundary's ↑ splits off a new stage.
    const end = lab.page.getByTestId('boundary-end');
    await end.focus();
    await lab.page.keyboard.press('ArrowUp');
    assert.equal(await stageText(3), 'dense_out');
    assert.equal(await stageText(2), 'dense_3 … dense_8 (6 layers)');
    await lab.page.getByTestId('boundary-2').focus();
    await lab.page.keyboard.press('ArrowUp');
    assert.equal(await stageText(2), 'dense_3 … dense_7 (5 layers)');
    assert.equal(await stageText(3), 'dense_8 … dense_out (2 layers)');
    const problems = lab.page.getByTestId('problems');
    await problems.waitFor();
    assert.match(
      (await problems.textContent()) ?? '',
      /Stage 3 is on no machine\. Drag stage 3 onto a machine card, or pick a machine in its list\./,
    );
    assert.ok(await lab.page.getByRole('button', { name: 'Start run…' }).isDisabled());
    await lab.page
      .getByRole('combobox', { name: 'Machine for stage 3' })
      .selectOption({ label: 'alpha' });
    await problems.waitFor({ state: 'detached', timeout: 5000 });
    // Enabled once the engine's prediction for this layout confirms the memory fits.
    await lab.page
      .getByRole('button', { name: 'Start run…', disabled: false })
      .waitFor({ timeout: 5000 });
    // Ctrl+Z walks back through every edit.
    await lab.page.locator('body').click({ position: { x: 5, y: 5 } });
    for (let i = 0; i < 3; i++) await lab.page.keyboard.press('Control+z');
    assert.equal(await lab.page.getByRole('group', { name: 'Stage 3', exact: true }).count(), 0);
    assert.equal(await stageText(2), 'dense_3 … dense_out (7 layers)');
    // A layer dragged onto the neighbouring stage's lane joins it.
    await drag(
      lab.page,
      lab.page.getByRole('listitem', { name: 'Layer dense_3, stage 2' }),
      await centre(lab.page.getByRole('group', { name: 'Stage 1', exact: true })),
    );
    assert.equal(await stageText(1), 'dense_1 … dense_3 (3 layers)');
    await lab.page.keyboard.press('Control+z');
    assert.equal(await stageText(1), 'dense_1 … dense_2 (2 layers)');
  });

  it('shows a model.json it cannot import in words, from the file picker and from a drop', async () => {
    await lab.page.getByLabel('Import model.json').setInputFiles({
      name: 'frozen.json',
      mimeType: 'application/json',
      buffer: Buffer.from('{"format":"graph-model","modelTopology":{}}'),
    });
    assert.match(
      (await lab.page.getByTestId('import-error').textContent()) ?? '',
      /^frozen\.json: frozen\.json is a tfjs graph model/,
    );
    const dt = await lab.page.evaluateHandle(() => {
      const d = new DataTransfer();
      d.items.add(new File(['not json'], 'broken.json', { type: 'application/json' }));
      return d;
    });
    await lab.page.dispatchEvent('main', 'dragover', { dataTransfer: dt });
    await lab.page.dispatchEvent('main', 'drop', { dataTransfer: dt });
    await lab.page
      .getByText(/^broken\.json: broken\.json is not valid JSON/)
      .waitFor({ timeout: 5000 });
    await lab.page.screenshot({
      path: path.join(ARTIFACTS, 'designer-import-error-1440x1000.png'),
    });
  });

  it('imports a 5 MiB model.json from the file picker and from a drop, shows its layers, predicts on it', async () => {
    // Over the WebSocket's 1 MiB limit: the file goes up as an HTTP upload.
    const big = bigModelJson(5 << 20);
    const last = `dense_${big.layers - 1}`;
    const allLayers = `dense_0 … ${last} (${big.layers} layers)`;
    await lab.page.getByLabel('Import model.json').setInputFiles({
      name: 'deep-chain.json',
      mimeType: 'application/json',
      buffer: Buffer.from(big.text),
    });
    await lab.page
      .getByRole('listitem', { name: `Layer ${last}, stage 1` })
      .waitFor({ timeout: 30_000 });
    assert.equal(await lab.page.getByTestId('import-error').count(), 0);
    assert.equal(await stageText(1), allLayers);
    assert.equal(
      await lab.page.getByRole('listitem', { name: /^Layer dense_\d+, stage/ }).count(),
      big.layers,
    );

    // The engine keeps the model: a prediction on it sends a short reference, not 3 MB of spec.
    await drag(
      lab.page,
      lab.page.getByRole('button', { name: 'Drag stage 1 onto a machine' }),
      await centre(machineCard(lab.page, 'alpha')),
    );
    await lab.page.getByTestId('predicted-throughput').waitFor({ timeout: 30_000 });
    assert.match((await throughput()) ?? '', /samples\/s$/);
    await lab.page.screenshot({ path: path.join(ARTIFACTS, 'designer-import-5mib-1440x1000.png') });

    // Dropped on the window, the same file imports the same way.
    await lab.page.getByRole('combobox', { name: 'Model' }).selectOption('deep-mlp');
    await lab.page.getByRole('listitem', { name: 'Layer dense_1, stage 1' }).waitFor();
    const dt = await lab.page.evaluateHandle((text) => {
      const d = new DataTransfer();
      d.items.add(new File([text], 'dropped-chain.json', { type: 'application/json' }));
      return d;
    }, big.text);
    await lab.page.dispatchEvent('main', 'dragover', { dataTransfer: dt });
    await lab.page.dispatchEvent('main', 'drop', { dataTransfer: dt });
    await lab.page
      .getByRole('listitem', { name: `Layer ${last}, stage 1` })
      .waitFor({ timeout: 30_000 });
    assert.equal(await stageText(1), allLayers);
    assert.equal(lab.web.proc.exitCode, null, 'the server is still up');
  });

  it('trains an imported binary classifier (binary_crossentropy) from the designer on synthetic data', async () => {
    const file = path.resolve('test/fixtures/models/binary-mlp.json');
    // A browser gives the engine the file's name only: the run must still find the model.
    await lab.page.getByLabel('Import model.json').setInputFiles({
      name: 'binary-mlp.json',
      mimeType: 'application/json',
      buffer: fs.readFileSync(file),
    });
    await lab.page
      .getByRole('listitem', { name: /^Layer .*, stage 1$/ })
      .first()
      .waitFor();
    await lab.page
      .getByRole('combobox', { name: 'Machine for stage 1' })
      .selectOption({ label: 'alpha' });
    const start = lab.page.getByRole('button', { name: 'Start run…', disabled: false });
    await start.waitFor({ timeout: 10_000 });
    await start.click();
    const dialog = lab.page.getByRole('dialog', { name: 'Start a run' });
    await dialog.waitFor();
    assert.equal(await dialog.getByLabel('Dataset').inputValue(), 'synthetic');
    await dialog.getByLabel('Name').fill('binary from the designer');
    await dialog.getByLabel('epochs or steps').selectOption('steps');
    await dialog.getByLabel('number of steps').fill('40');
    await dialog.getByRole('button', { name: 'Start' }).click();
    await lab.page
      .locator('[data-testid="run-page"][data-status="completed"]')
      .waitFor({ timeout: 120_000 });
    const first = Number(await lab.page.getByTestId('loss-chart').getAttribute('data-first-loss'));
    const last = Number(await lab.page.getByTestId('loss-chart').getAttribute('data-last-loss'));
    assert.ok(last < first, `binary cross-entropy falls: ${first} → ${last}`);
    await lab.page.screenshot({ path: path.join(ARTIFACTS, 'designer-binary-run-1440x1000.png') });
  });
});
