import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IpcMainInvokeEvent, WebContents } from 'electron';
import { isAppUrl } from '../../main/appOrigin.js';
import { bridgeApi } from '../../main/ipcBridge.js';
import { ipcChannel, OPERATION_NAMES } from '../../native/api/operationNames.js';
import type { ApiResult } from '../../native/api/schemas.js';
import { ApiServer, type ApiHandlers } from '../../native/api/server.js';
import { designerHandlers } from '../../native/api/designerBackend.js';
import { bigModelJson } from '../helpers/bigModel.js';
import { fakeNode } from '../helpers/fakeNode.js';

type Handler = (e: IpcMainInvokeEvent, request: unknown) => Promise<ApiResult>;

/** main/'s IPC checks, driven without Electron: a fake ipcMain, window and frames. */
function setup() {
  const handlers = new Map<string, Handler>();
  const ipcMain = {
    handle: (channel: string, h: Handler) => void handlers.set(channel, h),
    removeHandler: (channel: string) => void handlers.delete(channel),
  };
  const mainFrame = { url: 'app://pipefitter/index.html' };
  const wc = { mainFrame, isDestroyed: () => false, send: () => {} };
  const api = new ApiServer({
    handlers: {
      listNodes: async () => ({ nodes: [fakeNode('a')], serverTime: 1 }),
      addMachine: async ({ address }) => ({ node: fakeNode(address) }),
      benchmarkNode: async () => {
        throw new Error('unused');
      },
      joinInfo: async () => {
        throw new Error('unused');
      },
      getSettings: async () => ({ localAgent: true }),
      setSettings: async () => ({ localAgent: true }),
      importModel: designerHandlers({ nodes: () => [], plansDir: '/nonexistent' }).importModel,
    } as Partial<ApiHandlers> as ApiHandlers,
    subscribe: () => () => {},
  });
  const dispose = bridgeApi(ipcMain as never, api, () => wc as unknown as WebContents);
  const invoke = (op: string, request: unknown, sender: unknown, senderFrame: unknown) =>
    handlers.get(ipcChannel(op as never))!({ sender, senderFrame } as IpcMainInvokeEvent, request);
  return { handlers, wc, mainFrame, api, dispose, invoke };
}

describe('main/ IPC bridge', () => {
  it('registers exactly one handler per operation, and removes them', () => {
    const s = setup();
    assert.deepEqual([...s.handlers.keys()].sort(), OPERATION_NAMES.map(ipcChannel).sort());
    s.dispose();
    assert.equal(s.handlers.size, 0);
    s.api.close();
  });

  it('answers our window’s main frame, and validates its payload before the engine sees it', async () => {
    const s = setup();
    const ok = await s.invoke('listNodes', {}, s.wc, s.mainFrame);
    assert.equal(ok.ok, true, JSON.stringify(ok));
    const bad = await s.invoke('addMachine', { address: { $gt: '' } }, s.wc, s.mainFrame);
    assert.equal(bad.ok, false);
    assert.equal(!bad.ok && bad.error.code, 'bad-request');
    assert.match(!bad.ok ? bad.error.message : '', /^addMachine: invalid request: address:/);
    s.api.close();
  });

  it('carries a big model.json (IPC has no message limit) up to the 64 MiB a file may have', async () => {
    const s = setup();
    const big = bigModelJson(5 << 20);
    const r = await s.invoke(
      'importModel',
      { text: big.text, fileName: 'big.json' },
      s.wc,
      s.mainFrame,
    );
    assert.equal(
      r.ok && (r.value as { model: { layers: unknown[] } }).model.layers.length,
      big.layers,
    );
    const huge = await s.invoke(
      'importModel',
      { text: ' '.repeat(64 * 1024 * 1024 + 1), fileName: 'huge.json' },
      s.wc,
      s.mainFrame,
    );
    assert.equal(!huge.ok && huge.error.code, 'bad-request');
    assert.match(
      !huge.ok ? huge.error.message : '',
      /^importModel: invalid request: text: .*67108864/,
    );
    s.api.close();
  });

  it('refuses a call from a subframe, another page, or another web contents', async () => {
    const s = setup();
    const iframe = { url: 'app://pipefitter/index.html' };
    const elsewhere = { url: 'https://evil.example/' };
    for (const [sender, frame] of [
      [s.wc, iframe],
      [s.wc, null],
      [{ mainFrame: elsewhere }, elsewhere],
    ] as const) {
      const r = await s.invoke('listNodes', {}, sender, frame);
      assert.deepEqual(r, {
        ok: false,
        error: { code: 'forbidden', message: 'listNodes: refused a call from an unknown frame' },
      });
    }
    s.mainFrame.url = 'https://evil.example/';
    const navigated = await s.invoke('listNodes', {}, s.wc, s.mainFrame);
    assert.equal(!navigated.ok && navigated.error.code, 'forbidden');
    s.api.close();
  });
});

describe('isAppUrl', () => {
  it('accepts only app://pipefitter pages', () => {
    assert.equal(isAppUrl('app://pipefitter/index.html'), true);
    assert.equal(isAppUrl('app://pipefitter/'), true);
    for (const url of [
      'app://evil/index.html',
      'app://pipefitter.evil.example/',
      'https://pipefitter/',
      'file:///index.html',
      'app://user:pw@pipefitter/',
      'not a url',
    ])
      assert.equal(isAppUrl(url), false, url);
  });
});
