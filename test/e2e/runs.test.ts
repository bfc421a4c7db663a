import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { initBackend } from '../../native/backend/initBackend.js';
import { fileModelLoader } from '../../native/pipeline/modelFiles.js';
import { spawnSync } from 'node:child_process';
import {
  CLI,
  startAgent,
  stopAgent,
  tempDir,
  TEST_TOKEN,
  type RunningAgent,
} from '../helpers/agents.js';
import { startWeb, type RunningWeb } from '../helpers/web.js';
import { launchChromium } from './browser.js';
import { planOverAgents } from '../helpers/cliTraining.js';

const ARTIFACTS = path.resolve(import.meta.dirname, '../artifacts');

async function num(page: Page, testId: string, attr: string): Promise<number> {
  return Number(await page.getByTestId(testId).getAttribute(attr));
}

describe('Runs in browser mode with two real agents', () => {
  const beaconPort = 48000 + Math.floor(Math.random() * 900);
  let browser: Browser;
  let agents: RunningAgent[] = [];
  let web: RunningWeb;
  let page: Page;
  let planFile: string;
  const work = tempDir('pf-e2e-runs-');
  let firstRunPoints = 0;

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
    agents = await Promise.all(['alpha', 'bravo'].map((name) => startAgent({ name, beaconPort })));
    planFile = planOverAgents(agents, work, [
      '--model',
      'mnist-mlp',
      '--stages',
      '2',
      '--batch',
      '64',
      '--microbatches',
      '4',
    ]);
    web = await startWeb({ beaconPort });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('pageerror', (e) => console.error('page error:', e.message));
  });
  after(async () => {
    await page?.close();
    await browser?.close();
    await web?.stop();
    await Promise.all(agents.map((a) => stopAgent(a)));
  });

  const waitOnline = async () => {
    for (const name of ['alpha', 'bravo'])
      await page
        .getByRole('article', { name: `Machine ${name}` })
        .locator('[data-state="online"]')
        .waitFor({ timeout: 15_000 });
  };

  const startFromPlan = async (name: string, length: { epochs?: number; steps?: number }) => {
    await page.getByRole('button', { name: 'Runs', exact: true }).click();
    await page.getByTestId('plan-file').setInputFiles(planFile);
    const dialog = page.getByRole('dialog', { name: 'Start a run' });
    await dialog.waitFor();
    await dialog.getByLabel('Name').fill(name);
    if (length.steps) {
      await dialog.getByLabel('epochs or steps').selectOption('steps');
      await dialog.getByLabel('number of steps').fill(String(length.steps));
    } else await dialog.getByLabel('number of epochs').fill(String(length.epochs ?? 1));
    await dialog.getByRole('button', { name: 'Start' }).click();
    await page.getByTestId('run-page').waitFor({ timeout: 60_000 });
  };

  it('trains one epoch live: the loss chart grows and falls, progress reaches 100%, accuracy ≥ 95%, both stages in the timeline', async () => {
    await page.goto(web.url);
    await waitOnline();
    await startFromPlan('e2e one epoch', { epochs: 1 });

    // Points arrive while it runs.
    await page.waitForFunction(
      () =>
        Number(document.querySelector('[data-testid="loss-chart"]')?.getAttribute('data-points')) >=
        20,
      null,
      { timeout: 90_000 },
    );
    const early = await num(page, 'loss-chart', 'data-points');
    assert.equal(await page.getByTestId('run-page').getAttribute('data-status'), 'running');
    await page.waitForFunction(
      (n) =>
        Number(document.querySelector('[data-testid="loss-chart"]')?.getAttribute('data-points')) >
        n + 50,
      early,
      { timeout: 60_000 },
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'run-live.png'), fullPage: true });

    await page
      .locator('[data-testid="run-page"][data-status="completed"]')
      .waitFor({ timeout: 180_000 });
    firstRunPoints = await num(page, 'loss-chart', 'data-points');
    assert.equal(firstRunPoints, 937, 'one epoch of 60,000 samples at batch 64');
    const first = await num(page, 'loss-chart', 'data-first-loss');
    const last = await num(page, 'loss-chart', 'data-last-loss');
    assert.ok(last < first, `last loss ${last} should be below the first ${first}`);
    assert.equal(await page.getByRole('progressbar').getAttribute('aria-valuenow'), '100');
    assert.equal(await page.getByTestId('progress-percent').textContent(), '100%');
    const acc = (await page.getByTestId('test-accuracy').textContent()) ?? '';
    const pct = Number(/test accuracy ([\d.]+)%/.exec(acc)?.[1]);
    assert.ok(pct >= 95, `test accuracy ${acc}`);
    assert.equal(await page.getByTestId('timeline-stage').count(), 2);
    for (const k of [0, 1])
      assert.ok(
        (await page.locator(`[data-testid="timeline-stage"][data-stage="${k}"] rect`).count()) > 4,
        `stage ${k} has F/B bars`,
      );
    assert.match(
      (await page.getByTestId('bubble').textContent()) ?? '',
      /measured \d+%, predicted \d+%/,
    );
    // The chart draws a downsampled copy: never more points than pixels per line.
    await page.screenshot({ path: path.join(ARTIFACTS, 'run-done.png'), fullPage: true });
  });

  it('exports a model.json that tf.loadLayersModel loads, and the metrics as CSV', async () => {
    const out = path.join(work, 'export');
    await page.getByRole('button', { name: 'Export…' }).click();
    await page.getByLabel('Export to folder').fill(out);
    await page.getByRole('button', { name: 'Export model + CSV' }).click();
    await page.getByTestId('export-result').waitFor();
    assert.match((await page.getByTestId('export-result').textContent()) ?? '', /model\.json/);
    const { tf } = await initBackend({ prefer: 'cpu' });
    const model = await tf.loadLayersModel(fileModelLoader(tf, path.join(out, 'model.json')));
    const y = model.predict(tf.zeros([1, 784])) as { shape: number[] };
    assert.deepEqual(y.shape, [1, 10]);
    const csv = fs.readFileSync(path.join(out, 'metrics.csv'), 'utf8').trim().split('\n');
    assert.equal(
      csv[0],
      'kind,step,epoch,wall_time_ms,elapsed_ms,loss,accuracy,samples_per_second',
    );
    assert.equal(csv.filter((l) => l.startsWith('train,')).length, 937);
    assert.equal(csv.filter((l) => l.startsWith('validation,')).length, 1);
  });

  it('keeps the run across a restart of the server, and overlays it with a second run', async () => {
    await web.stop();
    web = await startWeb({ beaconPort, stateDir: web.stateDir });
    await page.goto(web.url);
    await page.getByRole('button', { name: 'Runs', exact: true }).click();
    const row = page.getByTestId('run-row').filter({ hasText: 'e2e one epoch' });
    await row.waitFor({ timeout: 10_000 });
    assert.match((await row.textContent()) ?? '', /completed/);
    await row.getByRole('button', { name: 'e2e one epoch', exact: true }).click();
    await page.waitForFunction(
      (n) =>
        Number(
          document.querySelector('[data-testid="loss-chart"]')?.getAttribute('data-points'),
        ) === n,
      firstRunPoints,
      { timeout: 10_000 },
    );
    assert.ok((await num(page, 'loss-chart', 'data-points')) === firstRunPoints);

    await page.getByRole('button', { name: 'Cluster', exact: true }).click();
    await waitOnline();
    await startFromPlan('e2e short', { steps: 20 });
    await page
      .locator('[data-testid="run-page"][data-status="completed"]')
      .waitFor({ timeout: 90_000 });
    assert.equal(await num(page, 'loss-chart', 'data-points'), 20);

    await page.getByRole('button', { name: '← Runs' }).click();
    await page.getByLabel('overlay e2e one epoch').check();
    await page.getByLabel('overlay e2e short').check();
    await page
      .locator('[data-testid="overlay"] [data-testid="loss-chart"][data-runs="2"]')
      .waitFor();
    assert.ok(
      Number(
        await page
          .locator('[data-testid="overlay"] .series-chart')
          .getAttribute('data-drawn-points'),
      ) > 20,
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'runs-overlay.png'), fullPage: true });

    // Delete is undoable.
    await page.getByRole('button', { name: 'delete e2e short' }).click();
    await page
      .getByTestId('run-row')
      .filter({ hasText: 'e2e short' })
      .waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Undo' }).click();
    await page.getByTestId('run-row').filter({ hasText: 'e2e short' }).waitFor();

    // Run again opens the run's plan in the designer.
    await page.getByRole('button', { name: 'e2e short', exact: true }).click();
    await page.getByRole('button', { name: 'Run again' }).click();
    await page
      .getByRole('navigation', { name: 'Main' })
      .locator('[aria-current="page"]', { hasText: 'Designer' })
      .waitFor();
  });

  it('keeps a run training when the server is SIGKILLed: pipefitter runs lists it, the next server shows it live with its whole history, and stops it', async () => {
    await page.getByRole('button', { name: 'Cluster', exact: true }).click();
    await waitOnline();
    await startFromPlan('e2e killed', { steps: 100_000 });
    await page.waitForFunction(
      () =>
        Number(document.querySelector('[data-testid="loss-chart"]')?.getAttribute('data-points')) >=
        10,
      null,
      { timeout: 60_000 },
    );
    web.proc.kill('SIGKILL');
    await web.stop();
    const killedAt = Date.now();

    // The run's driver is an agent (alpha, its first stage's machine): it trains on.
    const peers = agents.flatMap((a) => ['--peer', `127.0.0.1:${a.ready.controlPort}`]);
    const listed = spawnSync(
      process.execPath,
      [
        CLI,
        'runs',
        '--json',
        '--wait',
        '1',
        ...peers,
        '--state-dir',
        tempDir(),
        '--token',
        TEST_TOKEN,
        '--beacon-port',
        String(beaconPort),
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(listed.status, 0, listed.stderr);
    const run = (
      JSON.parse(listed.stdout) as {
        driver: string;
        summary: { id: string; name: string; status: string; steps: number };
      }[]
    ).find((r) => r.summary.name === 'e2e killed');
    assert.ok(run, listed.stdout);
    assert.equal(run.summary.status, 'running');
    assert.equal(run.driver, 'alpha');

    web = await startWeb({ beaconPort, stateDir: web.stateDir });
    await page.goto(web.url);
    await page.getByRole('button', { name: 'Runs', exact: true }).click();
    const row = page.getByTestId('run-row').filter({ hasText: 'e2e killed' });
    await row.waitFor({ timeout: 10_000 });
    await row.getByRole('button', { name: 'e2e killed', exact: true }).click();
    await page.locator('[data-testid="run-page"][data-status="running"]').waitFor();
    // Caught up past what the driver had done while no server ran, then live.
    await page.waitForFunction(
      (n) =>
        Number(document.querySelector('[data-testid="loss-chart"]')?.getAttribute('data-points')) >
        n,
      run.summary.steps + 20,
      { timeout: 60_000 },
    );
    console.log(
      `server SIGKILLed; ${Math.round((Date.now() - killedAt) / 1000)} s later the new server shows the run live past step ${run.summary.steps + 20}`,
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'run-reattached.png') });
    // Re-plan asks the driver (through this server's copy) to plan the run over the machines online.
    await page.getByRole('button', { name: 'Re-plan' }).click();
    const note = page.getByTestId('replan-note');
    await note.waitFor({ timeout: 30_000 });
    assert.match(
      await note.innerText(),
      /already trains on the layout the planner picks over the 2 machines online|^will re-plan onto 2 machines \(predicted \d+ → \d+ samples\/s\) at the next checkpoint$/,
    );
    console.log(`Re-plan on the run page: ${await note.innerText()}`);
    await page.getByRole('button', { name: 'Stop…' }).click();
    await page.getByRole('button', { name: 'Stop run' }).click();
    await page
      .locator('[data-testid="run-page"][data-status="stopped"]')
      .waitFor({ timeout: 30_000 });

    // The copy here is the driver's, record for record: every step from 0, none missing.
    const file = path.join(web.stateDir, 'runs', run.summary.id, 'run.jsonl');
    const records = fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as { seq: number; kind: string; event?: { type: string; step: number } },
      );
    assert.deepEqual(
      records.map((r) => r.seq),
      records.map((_, i) => i),
    );
    const steps = records.filter((r) => r.event?.type === 'step').map((r) => r.event!.step);
    assert.deepEqual(
      steps,
      steps.map((_, i) => i),
    );
    assert.equal(records.at(-1)!.kind, 'end');
  });
});
