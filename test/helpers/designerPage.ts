import fs from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { startAgent, tempDir, type RunningAgent } from './agents.js';

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
