import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findChromium, launchChromium, NoChromiumError } from './browser.js';

/** The browser finder itself: a fresh machine without Debian's Chromium still runs the e2e tests. */
describe('e2e browser', () => {
  it('falls back to the Chromium inside @sparticuz/chromium, which Playwright drives headless', async () => {
    const choice = await findChromium({ setting: 'auto', systemPath: '/nonexistent/chromium' });
    assert.match(choice.line, /@sparticuz\/chromium \(\/nonexistent\/chromium is missing\)/);
    const browser = await launchChromium([], choice);
    try {
      const page = await browser.newPage();
      await page.setContent('<p id="p">drawn</p><script>document.title = String(6 * 7)</script>');
      assert.equal(await page.title(), '42');
      assert.equal(await page.textContent('#p'), 'drawn');
      // Text is laid out with real glyphs: the packaged fonts load.
      const width = await page.evaluate(() => document.getElementById('p')!.offsetWidth);
      assert.ok(width > 0);
      assert.ok((await page.screenshot()).length > 1000);
    } finally {
      await browser.close();
    }
  });

  it('fails with one clear line when the chosen browser is not there', async () => {
    await assert.rejects(
      findChromium({ setting: 'system', systemPath: '/nonexistent/chromium' }),
      (err: Error) =>
        err instanceof NoChromiumError &&
        /^e2e browser: none: PIPEFITTER_CHROMIUM=system but \/nonexistent\/chromium is missing/.test(
          err.message,
        ),
    );
    await assert.rejects(findChromium({ setting: '/nonexistent/chrome' }), /does not exist/);
    await assert.rejects(findChromium({ setting: 'firefox' }), /is not auto, system, packaged/);
  });
});
