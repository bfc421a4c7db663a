import fs from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { launchChromium } from '../e2e/browser.js';
import { startAgent, stopAgent, tempDir, testBeaconPort, type RunningAgent } from './agents.js';
import { startWeb, type RunningWeb } from './web.js';

/**
 * An agent whose speed is already measured (a cached speed.json, as a real agent keeps after its first
 * benchmark), so the designer can predict on it without a benchmark in the test.
 */
export async function measuredAgent(
  name: string,
  gflops: number,
  beaconPort: number,
): Promise<RunningAgent> {
  const stateDir = tempDir(`pf-agent-${name}-`);
  fs.mkdirSync(path.join(stateDir, 'agent'), { recursive: true });
  fs.writeFileSync(
    path.join(stateDir, 'agent', 'speed.json'),
    JSON.stringify({
      backend: 'wasm',
      gflops,
      matrix: [512, 512, 512],
      measuredAt: Date.now(),
      durationMs: 100,
    }),
  );
  return startAgent({ name, beaconPort, stateDir });
}

/** A real drag: press, move in small steps (past the threshold), release. */
export async function drag(page: Page, from: Locator, to: { x: number; y: number }): Promise<void> {
  const box = (await from.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(to.x, to.y, { steps: 12 });
  await page.mouse.up();
}

export async function centre(l: Locator): Promise<{ x: number; y: number }> {
  const b = (await l.boundingBox())!;
  return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
}

/** What `useDesignerLab` sets up before a file's tests. */
export interface DesignerLab {
  browser: Browser;
  agents: RunningAgent[];
  web: RunningWeb;
  page: Page;
}

/**
 * Agents of measured speeds (`[name, GFLOP/s]`), browser mode's web server beside them, and a 1440×1000
 * Chromium page (page errors printed), set up before the enclosing suite's tests and torn down after.
 */
export function useDesignerLab(speeds: [string, number][]): DesignerLab {
  const lab = { agents: [] as RunningAgent[] } as DesignerLab;
  const beaconPort = testBeaconPort();
  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    lab.browser = await launchChromium();
    lab.agents.push(
      ...(await Promise.all(speeds.map(([name, g]) => measuredAgent(name, g, beaconPort)))),
    );
    lab.web = await startWeb({ beaconPort });
    lab.page = await lab.browser.newPage({ viewport: { width: 1440, height: 1000 } });
    lab.page.on('pageerror', (e) => console.error('page error:', e.message));
  });
  after(async () => {
    await lab.page?.close();
    await lab.browser?.close();
    await lab.web?.stop();
    await Promise.all(lab.agents.map((a) => stopAgent(a)));
  });
  return lab;
}

/** Where e2e tests leave their screenshots. */
export const ARTIFACTS = path.resolve(import.meta.dirname, '../artifacts');

/** A machine's card in the designer. */
export const machineCard = (page: Page, name: string): Locator =>
  page.getByRole('group', { name: `Machine ${name}` });

/**
 * Opens the designer on `model` and waits for its first layer and for every agent's machine card
 * (listed once the agent answers).
 */
export async function openDesigner(lab: DesignerLab, model: string): Promise<void> {
  await lab.page.goto(lab.web.url);
  await lab.page.getByRole('button', { name: 'Designer' }).click();
  await lab.page.getByRole('combobox', { name: 'Model' }).selectOption(model);
  await lab.page.getByRole('listitem', { name: 'Layer dense_1, stage 1' }).waitFor();
  for (const a of lab.agents)
    await machineCard(lab.page, a.ready.name).waitFor({ timeout: 10_000 });
}
