import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import * as zmq from 'zeromq';
import { encodeBeacon } from '../../native/discovery/beacon.js';
import { startAgent, stopAgent, TEST_TOKEN, type RunningAgent } from '../helpers/agents.js';
import { startWeb, type RunningWeb } from '../helpers/web.js';
import { launchChromium } from './browser.js';

const ARTIFACTS = path.resolve(import.meta.dirname, '../artifacts');

describe('Cluster view in browser mode', () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => browser?.close());

  it('tells a new user how to start an agent when there are no machines', async () => {
    const web = await startWeb({ beaconPort: 48161 });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(web.url);
      const empty = page.getByTestId('empty-state');
      await empty.waitFor({ timeout: 5000 });
      assert.equal(
        await page.getByTestId('join-command').textContent(),
        `pipefitter agent --token ${TEST_TOKEN} --beacon-port 48161`,
      );
      // The token leaves the address bar once read (the cookie carries it from then on).
      assert.doesNotMatch(page.url(), /token=/);
      await page.reload();
      await empty.waitFor({ timeout: 5000 });
      await page.close();
    } finally {
      await web.stop();
    }
  });

  describe('with three real agents', () => {
    const beaconPort = 48162;
    let agents: RunningAgent[] = [];
    let web: RunningWeb;
    let page: Page;

    before(async () => {
      agents = await Promise.all(
        ['alpha', 'bravo', 'charlie'].map((name) => startAgent({ name, beaconPort })),
      );
      web = await startWeb({ beaconPort });
      page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      page.on('pageerror', (e) => console.error('page error:', e.message));
    });
    after(async () => {
      await page?.close();
      await web?.stop();
      await Promise.all(agents.map((a) => stopAgent(a)));
    });

    const card = (name: string) => page.getByRole('article', { name: `Machine ${name}` });

    it('shows all three cards within 5 s with CPU, memory and backend', async () => {
      await page.goto(web.url);
      for (const name of ['alpha', 'bravo', 'charlie']) {
        const c = card(name);
        await c
          .getByTestId('node-state')
          .and(page.locator('[data-state="online"]'))
          .waitFor({ timeout: 5000 });
        // No nested named functions in page code: tsx would wrap them in a helper the page lacks.
        await page.waitForFunction(
          (n) => {
            const el = document.querySelector(`[aria-label="Machine ${n}"]`);
            const cpu = el?.querySelector('[data-testid="node-cpu"]')?.textContent ?? '';
            const mem = el?.querySelector('[data-testid="node-memory"]')?.textContent ?? '';
            const backend = el?.querySelector('[data-testid="node-backend"]')?.textContent ?? '';
            return (
              /cores/.test(cpu) && /GiB/.test(mem) && /WASM|JS CPU|TF CPU|TF GPU/.test(backend)
            );
          },
          name,
          { timeout: 5000 },
        );
      }
      assert.match(
        (await page.getByTestId('cluster-summary').textContent()) ?? '',
        /^3 machines · 3 online/,
      );
      // For the screenshot (not part of the 5 s): live memory on every card and a few load points.
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll('[data-testid="node-memory"]')].every((el) =>
            /^\d/.test(el.textContent ?? ''),
          ),
        undefined,
        { timeout: 10_000 },
      );
      await page.waitForTimeout(3000);
      await page.screenshot({ path: path.join(ARTIFACTS, 'cluster-view-1280x800.png') });
    });

    it('lists the links between the three agents as pairs on one computer', async () => {
      const links = page.getByTestId('links');
      const row = links.getByTestId('link-row').filter({ hasText: 'alpha ⇄ bravo' });
      await row.waitFor({ timeout: 5000 });
      assert.equal(await row.getAttribute('data-kind'), 'same-computer');
      // Started with --no-benchmark: no probe has timed loopback, so the planner takes the default.
      assert.match(
        (await row.textContent()) ?? '',
        /^alpha ⇄ bravo0\.20 ms1\.00 Gbit\/ssame computer: loopback not probed yet, planned as gigabit Ethernet$/,
      );
      assert.equal(await links.getByTestId('link-row').count(), 3);
      assert.match((await links.locator('summary').textContent()) ?? '', /^Links · 3 pairs$/);
      await links.screenshot({ path: path.join(ARTIFACTS, 'cluster-links.png') });
    });

    it('turns a killed agent’s card unreachable within 5 s, and says when it was seen', async () => {
      await stopAgent(agents[1]!, 'SIGKILL');
      const state = card('bravo').getByTestId('node-state');
      await card('bravo').locator('[data-state="unreachable"]').waitFor({ timeout: 5000 });
      assert.match((await state.textContent()) ?? '', /unreachable · seen (just now|\d+ s ago)/);
      await card('alpha').locator('[data-state="online"]').waitFor({ timeout: 1000 });
    });

    it('shows the error when "Add machine" is given an address where nothing answers', async () => {
      await page.getByRole('button', { name: 'Add machine' }).click();
      const input = page.getByLabel('Machine address');
      await input.fill('not an address!');
      await page.getByRole('button', { name: 'Add', exact: true }).click();
      const error = page.getByTestId('add-machine-error');
      assert.match((await error.textContent()) ?? '', /is not an address: use host or host:port/);
      await input.fill('127.0.0.1:9');
      await page.getByRole('button', { name: 'Add', exact: true }).click();
      await page.getByText(/^Could not add 127\.0\.0\.1:9: /).waitFor({ timeout: 10_000 });
      assert.equal(await error.getAttribute('role'), 'alert');
      await page.screenshot({ path: path.join(ARTIFACTS, 'cluster-add-machine-error.png') });
    });

    it('filters, switches to rows, and fits a 1920×1080 dark screen', async () => {
      await page.getByLabel('Filter machines').fill('char');
      await page.waitForFunction(
        () => document.querySelectorAll('[data-testid="node-card"]').length === 1,
      );
      await page.getByLabel('Filter machines').fill('');
      await page.getByRole('button', { name: 'Rows' }).click();
      await page.getByTestId('node-row').first().waitFor();
      assert.equal(await page.getByTestId('node-row').count(), 3);
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.setViewportSize({ width: 1920, height: 1080 });
      await page.screenshot({ path: path.join(ARTIFACTS, 'cluster-rows-1920x1080-dark.png') });
      await page.getByRole('button', { name: 'Cards' }).click();
      await page.screenshot({ path: path.join(ARTIFACTS, 'cluster-view-1920x1080-dark.png') });
    });

    it('reaches every control by keyboard, each with an accessible name', async () => {
      await page.emulateMedia({ colorScheme: 'light' });
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.reload();
      await page.getByTestId('node-card').first().waitFor();
      const names: (string | null)[] = [];
      for (let i = 0; i < 12; i++) {
        await page.keyboard.press('Tab');
        names.push(
          await page.evaluate(() => {
            const el = document.activeElement as HTMLElement | null;
            if (!el || el === document.body) return null;
            const labelled = el.id
              ? document.querySelector(`label[for="${el.id}"]`)?.textContent
              : null;
            const wrapping = el.closest('label')?.textContent;
            return (
              el.getAttribute('aria-label') ??
              labelled ??
              wrapping ??
              el.textContent ??
              ''
            ).trim();
          }),
        );
      }
      for (const expected of [
        'Cluster',
        'Designer',
        'Runs',
        'Filter machines',
        'Sort machines by',
        'Cards',
        'Rows',
        'Add machine',
      ])
        assert.ok(
          names.includes(expected),
          `${expected} reachable by Tab; got ${JSON.stringify(names)}`,
        );
      assert.ok(
        names.every((n) => n === null || n.length > 0),
        `every focused control has a name: ${JSON.stringify(names)}`,
      );
    });

    it('shows a stranger flooding fake machines as one line, not as machines', async () => {
      const socket = dgram.createSocket('udp4');
      await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
      const publicKey = zmq.curveKeyPair().publicKey;
      for (let i = 0; i < 300; i++) {
        const fake = encodeBeacon({
          nodeId: crypto.randomUUID(),
          cluster: 'default',
          name: `fake-${i}`,
          controlPort: 40000 + i,
          address: '',
          publicKey,
        });
        await new Promise<void>((r) => socket.send(fake, beaconPort, '127.0.0.1', () => r()));
      }
      socket.close();
      const line = page.getByTestId('strangers');
      await line.waitFor({ timeout: 5000 });
      assert.match(
        (await line.textContent()) ?? '',
        /\d+ unauthenticated beacons from 127\.0\.0\.1/,
      );
      assert.match(
        (await page.getByTestId('cluster-summary').textContent()) ?? '',
        /^3 machines ·/,
        'the fakes are not machines',
      );
      await page.screenshot({ path: path.join(ARTIFACTS, 'cluster-strangers.png') });
    });
  });
});
