import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { parsePlan } from '../../native/planner/planSchema.js';
import { stopAgent, testBeaconPort, type RunningAgent } from '../helpers/agents.js';
import { centre, drag, measuredAgent } from '../helpers/designerPage.js';
import { startWeb, type RunningWeb } from '../helpers/web.js';
import { launchChromium } from './browser.js';
import { trainPlanLocally } from '../helpers/cliTraining.js';
import { bigModelJson } from '../helpers/bigModel.js';

const ARTIFACTS = path.resolve(import.meta.dirname, '../artifacts');

describe('Designer in browser mode, two real agents', () => {
  const beaconPort = testBeaconPort();
  let browser: Browser;
  let agents: RunningAgent[] = [];
  let web: RunningWeb;
  let page: Page;

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
    agents = await Promise.all([
      measuredAgent('alpha', 20, beaconPort),
      measuredAgent('bravo', 10, beaconPort),
    ]);
    web = await startWeb({ beaconPort });
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    page.on('pageerror', (e) => console.error('page error:', e.message));
  });
  after(async () => {
    await page?.close();
    await browser?.close();
    await web?.stop();
    await Promise.all(agents.map((a) => stopAgent(a)));
  });

  const stageText = (k: number) => page.getByTestId(`stage-${k}-layers`).textContent();
  const throughput = () => page.getByTestId('predicted-throughput').textContent();
  const layout = async () =>
    Promise.all(
      [1, 2, 3, 4].map(async (k) => {
        const lane = page.getByRole('group', { name: `Stage ${k}`, exact: true });
        if ((await lane.count()) === 0) return null;
        return `${await stageText(k)} @ ${await lane.getByRole('combobox').inputValue()}`;
      }),
    );

  it('lays out deep-mlp on two machines by dragging, predicts, auto-partitions, undoes, saves and loads', async () => {
    await page.goto(web.url);
    await page.getByRole('button', { name: 'Designer' }).click();
    await page.getByRole('combobox', { name: 'Model' }).selectOption('deep-mlp');
    await page.getByRole('listitem', { name: 'Layer dense_1, stage 1' }).waitFor();
    // Both machines are listed once their agents answer.
    await page.getByRole('group', { name: 'Machine alpha' }).waitFor({ timeout: 10_000 });
    await page.getByRole('group', { name: 'Machine bravo' }).waitFor({ timeout: 10_000 });

    // Drag the model's end boundary up to the gap after dense_2: two stages.
    const row3 = await page.getByRole('listitem', { name: /^Layer dense_3,/ }).boundingBox();
    await drag(page, page.getByTestId('boundary-end'), { x: row3!.x + 200, y: row3!.y + 2 });
    assert.equal(await stageText(1), 'dense_1 … dense_2 (2 layers)');
    assert.equal(await stageText(2), 'dense_3 … dense_out (7 layers)');

    // Each stage onto a different machine card.
    const card = (n: string) => page.getByRole('group', { name: `Machine ${n}` });
    await drag(
      page,
      page.getByRole('button', { name: 'Drag stage 1 onto a machine' }),
      await centre(card('alpha')),
    );
    await drag(
      page,
      page.getByRole('button', { name: 'Drag stage 2 onto a machine' }),
      await centre(card('bravo')),
    );

    await page.getByTestId('predicted-throughput').waitFor({ timeout: 5000 });
    assert.match((await throughput()) ?? '', /^\d+(\.\d)? samples\/s$/);
    for (const name of ['alpha', 'bravo'])
      assert.equal(await page.getByTestId(`memory-${name}`).getAttribute('data-fits'), 'true');
    assert.equal(await page.getByTestId('problems').count(), 0);
    await page.getByTestId('timeline').waitFor();
    const mine = { layout: await layout(), throughput: await throughput() };
    assert.deepEqual(
      mine.layout.slice(0, 2).map((s) => s?.split(' @ ')[0]),
      ['dense_1 … dense_2 (2 layers)', 'dense_3 … dense_out (7 layers)'],
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'designer-manual-1440x1000.png') });

    // Auto-partition: a different layout and prediction, with the gain over ours said in words.
    await page.getByRole('button', { name: 'Auto-partition', exact: true }).click();
    await page.getByTestId('auto-result').waitFor({ timeout: 5000 });
    assert.match((await page.getByTestId('auto-result').textContent()) ?? '', /% over your layout/);
    await page.waitForFunction(
      (before) =>
        document.querySelector('[data-testid="predicted-throughput"]')?.textContent !== before,
      mine.throughput,
      { timeout: 5000 },
    );
    const auto = { layout: await layout(), throughput: await throughput() };
    assert.notDeepEqual(auto.layout, mine.layout);
    await page.screenshot({ path: path.join(ARTIFACTS, 'designer-auto-1440x1000.png') });

    // Undo restores our layout and its prediction.
    await page.getByRole('button', { name: 'Undo' }).click();
    await page.waitForFunction(
      (t) => document.querySelector('[data-testid="predicted-throughput"]')?.textContent === t,
      mine.throughput,
      { timeout: 5000 },
    );
    assert.deepEqual(await layout(), mine.layout);

    // Save, reload the page, load: the same plan.
    await page.getByRole('textbox', { name: 'Plan name' }).fill('e2e-plan');
    await page.getByRole('button', { name: 'Save plan' }).click();
    await page.getByTestId('save-status').waitFor();
    const file = path.join(web.stateDir, 'plans', 'e2e-plan.json');
    const saved = parsePlan(JSON.parse(fs.readFileSync(file, 'utf8')), file);
    assert.deepEqual(
      saved.stages.map((s) => [s.layers, s.machineName]),
      [
        [[0, 2], 'alpha'],
        [[2, 9], 'bravo'],
      ],
    );

    await page.reload();
    await page.getByRole('button', { name: 'Designer' }).click();
    await page.getByRole('button', { name: 'Open plan e2e-plan' }).click();
    await page.getByTestId('predicted-throughput').waitFor({ timeout: 5000 });
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
    const end = page.getByTestId('boundary-end');
    await end.focus();
    await page.keyboard.press('ArrowUp');
    assert.equal(await stageText(3), 'dense_out');
    assert.equal(await stageText(2), 'dense_3 … dense_8 (6 layers)');
    await page.getByTestId('boundary-2').focus();
    await page.keyboard.press('ArrowUp');
    assert.equal(await stageText(2), 'dense_3 … dense_7 (5 layers)');
    assert.equal(await stageText(3), 'dense_8 … dense_out (2 layers)');
    const problems = page.getByTestId('problems');
    await problems.waitFor();
    assert.match(
      (await problems.textContent()) ?? '',
      /Stage 3 is on no machine\. Drag stage 3 onto a machine card, or pick a machine in its list\./,
    );
    assert.ok(await page.getByRole('button', { name: 'Start run…' }).isDisabled());
    await page
      .getByRole('combobox', { name: 'Machine for stage 3' })
      .selectOption({ label: 'alpha' });
    await problems.waitFor({ state: 'detached', timeout: 5000 });
    // Enabled once the engine's prediction for this layout confirms the memory fits.
    await page
      .getByRole('button', { name: 'Start run…', disabled: false })
      .waitFor({ timeout: 5000 });
    // Ctrl+Z walks back through every edit.
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    for (let i = 0; i < 3; i++) await page.keyboard.press('Control+z');
    assert.equal(await page.getByRole('group', { name: 'Stage 3', exact: true }).count(), 0);
    assert.equal(await stageText(2), 'dense_3 … dense_out (7 layers)');
    // A layer dragged onto the neighbouring stage's lane joins it.
    await drag(
      page,
      page.getByRole('listitem', { name: 'Layer dense_3, stage 2' }),
      await centre(page.getByRole('group', { name: 'Stage 1', exact: true })),
    );
    assert.equal(await stageText(1), 'dense_1 … dense_3 (3 layers)');
    await page.keyboard.press('Control+z');
    assert.equal(await stageText(1), 'dense_1 … dense_2 (2 layers)');
  });

  it('shows a model.json it cannot import in words, from the file picker and from a drop', async () => {
    await page.getByLabel('Import model.json').setInputFiles({
      name: 'frozen.json',
      mimeType: 'application/json',
      buffer: Buffer.from('{"format":"graph-model","modelTopology":{}}'),
    });
    assert.match(
      (await page.getByTestId('import-error').textContent()) ?? '',
      /^frozen\.json: frozen\.json is a tfjs graph model/,
    );
    const dt = await page.evaluateHandle(() => {
      const d = new DataTransfer();
      d.items.add(new File(['not json'], 'broken.json', { type: 'application/json' }));
      return d;
    });
    await page.dispatchEvent('main', 'dragover', { dataTransfer: dt });
    await page.dispatchEvent('main', 'drop', { dataTransfer: dt });
    await page
      .getByText(/^broken\.json: broken\.json is not valid JSON/)
      .waitFor({ timeout: 5000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'designer-import-error-1440x1000.png') });
  });

  it('imports a 5 MiB model.json from the file picker and from a drop, shows its layers, predicts on it', async () => {
    // Over the WebSocket's 1 MiB limit: the file goes up as an HTTP upload.
    const big = bigModelJson(5 << 20);
    const last = `dense_${big.layers - 1}`;
    const allLayers = `dense_0 … ${last} (${big.layers} layers)`;
    await page.getByLabel('Import model.json').setInputFiles({
      name: 'deep-chain.json',
      mimeType: 'application/json',
      buffer: Buffer.from(big.text),
    });
    await page
      .getByRole('listitem', { name: `Layer ${last}, stage 1` })
      .waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId('import-error').count(), 0);
    assert.equal(await stageText(1), allLayers);
    assert.equal(
      await page.getByRole('listitem', { name: /^Layer dense_\d+, stage/ }).count(),
      big.layers,
    );

    // The engine keeps the model: a prediction on it sends a short reference, not 3 MB of spec.
    await drag(
      page,
      page.getByRole('button', { name: 'Drag stage 1 onto a machine' }),
      await centre(page.getByRole('group', { name: 'Machine alpha' })),
    );
    await page.getByTestId('predicted-throughput').waitFor({ timeout: 30_000 });
    assert.match((await throughput()) ?? '', /samples\/s$/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'designer-import-5mib-1440x1000.png') });

    // Dropped on the window, the same file imports the same way.
    await page.getByRole('combobox', { name: 'Model' }).selectOption('deep-mlp');
    await page.getByRole('listitem', { name: 'Layer dense_1, stage 1' }).waitFor();
    const dt = await page.evaluateHandle((text) => {
      const d = new DataTransfer();
      d.items.add(new File([text], 'dropped-chain.json', { type: 'application/json' }));
      return d;
    }, big.text);
    await page.dispatchEvent('main', 'dragover', { dataTransfer: dt });
    await page.dispatchEvent('main', 'drop', { dataTransfer: dt });
    await page
      .getByRole('listitem', { name: `Layer ${last}, stage 1` })
      .waitFor({ timeout: 30_000 });
    assert.equal(await stageText(1), allLayers);
    assert.equal(web.proc.exitCode, null, 'the server is still up');
  });

  it('trains an imported binary classifier (binary_crossentropy) from the designer on synthetic data', async () => {
    const file = path.resolve('test/fixtures/models/binary-mlp.json');
    // A browser gives the engine the file's name only: the run must still find the model.
    await page.getByLabel('Import model.json').setInputFiles({
      name: 'binary-mlp.json',
      mimeType: 'application/json',
      buffer: fs.readFileSync(file),
    });
    await page
      .getByRole('listitem', { name: /^Layer .*, stage 1$/ })
      .first()
      .waitFor();
    await page
      .getByRole('combobox', { name: 'Machine for stage 1' })
      .selectOption({ label: 'alpha' });
    const start = page.getByRole('button', { name: 'Start run…', disabled: false });
    await start.waitFor({ timeout: 10_000 });
    await start.click();
    const dialog = page.getByRole('dialog', { name: 'Start a run' });
    await dialog.waitFor();
    assert.equal(await dialog.getByLabel('Dataset').inputValue(), 'synthetic');
    await dialog.getByLabel('Name').fill('binary from the designer');
    await dialog.getByLabel('epochs or steps').selectOption('steps');
    await dialog.getByLabel('number of steps').fill('40');
    await dialog.getByRole('button', { name: 'Start' }).click();
    await page
      .locator('[data-testid="run-page"][data-status="completed"]')
      .waitFor({ timeout: 120_000 });
    const first = Number(await page.getByTestId('loss-chart').getAttribute('data-first-loss'));
    const last = Number(await page.getByTestId('loss-chart').getAttribute('data-last-loss'));
    assert.ok(last < first, `binary cross-entropy falls: ${first} → ${last}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'designer-binary-run-1440x1000.png') });
  });
});
