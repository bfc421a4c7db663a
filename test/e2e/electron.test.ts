import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, it } from 'node:test';
import { _electron } from 'playwright-core';
import { OPERATION_NAMES } from '../../native/api/operationNames.js';
import { TEST_TOKEN, tempDir } from '../helpers/agents.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Electron's binary, or why this machine has none (its npm package installs without the download). */
function electronBinary(): { path: string } | { why: string } {
  try {
    const p = createRequire(import.meta.url)('electron') as unknown;
    if (typeof p === 'string' && fs.existsSync(p)) return { path: p };
    return { why: `Electron's binary ${String(p)} does not exist` };
  } catch (err) {
    return { why: (err as Error).message.split('\n')[0]! };
  }
}

describe('the Electron window', () => {
  it('is isolated, sandboxed, without Node, and exposes only the API bridge', async (t) => {
    const bin = electronBinary();
    if (!('path' in bin)) {
      t.skip(`skipped: Electron's binary is not installed here (${bin.why}); runs where it is`);
      return;
    }
    const app = await _electron.launch({
      executablePath: bin.path,
      args: [ROOT, ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])],
      env: {
        ...process.env,
        PIPEFITTER_STATE_DIR: tempDir('pf-electron-'),
        PIPEFITTER_TOKEN: TEST_TOKEN,
        PIPEFITTER_LOCAL_AGENT: '0',
        PIPEFITTER_BEACON_PORT: '48191',
      },
    });
    try {
      const page = await app.firstWindow();
      const prefs = await app.evaluate(({ BrowserWindow }) => {
        // Electron's own spec tests read the applied preferences this way; its .d.ts omits the method.
        const wc = BrowserWindow.getAllWindows()[0]!.webContents as unknown as {
          getLastWebPreferences(): Record<string, unknown>;
        };
        const p = wc.getLastWebPreferences();
        return {
          contextIsolation: p.contextIsolation,
          sandbox: p.sandbox,
          nodeIntegration: p.nodeIntegration,
          webviewTag: p.webviewTag,
        };
      });
      assert.deepEqual(prefs, {
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        webviewTag: false,
      });
      const inPage = await page.evaluate(() => ({
        require: typeof (window as unknown as { require?: unknown }).require,
        process: typeof (window as unknown as { process?: unknown }).process,
        bridge: Object.keys(window.pipefitter ?? {}).sort(),
        opened: window.open('https://example.com') === null,
      }));
      assert.deepEqual(inPage, {
        require: 'undefined',
        process: 'undefined',
        // One function per operation (the one name list) and the event subscription, nothing else.
        bridge: [...OPERATION_NAMES, 'onEvents'].sort(),
        opened: true,
      });
      // The API answers through the bridge, and main validates the payload before the engine sees it.
      const bad = await page.evaluate(() => window.pipefitter!.addMachine({ address: 42 }));
      assert.deepEqual((bad as { ok: boolean }).ok, false);
      await page.getByRole('heading', { name: 'Cluster' }).waitFor({ timeout: 10_000 });
    } finally {
      await app.close();
    }
  });
});
