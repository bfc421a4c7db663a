// Electron main: glue only. The engine (coordinator, embedded agent, API validation) is native/api's
// Engine; this file makes the window safe and moves API envelopes over IPC.
import path from 'node:path';
import { app, BrowserWindow, dialog, ipcMain, session } from 'electron';
import { Engine } from '../native/api/engine.js';
import { defaultStateRoot } from '../native/agent/stateDir.js';
import { loadOrCreateToken } from '../native/trust/token.js';
import { registerAppScheme, serveRenderer } from './appProtocol.js';
import { bridgeApi } from './ipcBridge.js';
import { APP_ORIGIN } from './appOrigin.js';
import { lockDownSession, lockDownWebContents } from './security.js';

// Everything lives next to this bundle: dist/main/main.cjs → dist/renderer, dist/main/preload.cjs.
const distDir = path.resolve(__dirname, '..');
const projectDir = path.resolve(distDir, '..');

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  registerAppScheme();
  lockDownWebContents();
  let win: BrowserWindow | null = null;
  let engine: Engine | null = null;

  const createWindow = () => {
    win = new BrowserWindow({
      width: 1280,
      height: 800,
      minWidth: 960,
      minHeight: 600,
      show: false,
      title: 'Pipefitter',
      icon: path.join(projectDir, 'app', 'icons', '512x512.png'),
      backgroundColor: '#12151b',
      webPreferences: {
        preload: path.join(__dirname, 'preload.cjs'),
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        nodeIntegrationInSubFrames: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        webviewTag: false,
        spellcheck: false,
      },
    });
    win.once('ready-to-show', () => win?.show());
    win.on('closed', () => (win = null));
    void win.loadURL(`${APP_ORIGIN}/index.html`);
  };

  app.on('second-instance', () => {
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });

  app.whenReady().then(async () => {
    lockDownSession(session.defaultSession);
    serveRenderer(path.join(distDir, 'renderer'));
    const stateDir = process.env.PIPEFITTER_STATE_DIR ?? defaultStateRoot();
    const token = process.env.PIPEFITTER_TOKEN ?? loadOrCreateToken(stateDir).token;
    engine = new Engine({
      stateDir,
      token,
      cluster: process.env.PIPEFITTER_CLUSTER,
      beaconPort: process.env.PIPEFITTER_BEACON_PORT
        ? Number(process.env.PIPEFITTER_BEACON_PORT)
        : undefined,
      localAgent: process.env.PIPEFITTER_LOCAL_AGENT === '0' ? false : undefined,
      agentInterface: process.env.PIPEFITTER_INTERFACE,
      // The embedded agent runs as a child: Electron's own binary in Node mode, so no separate Node
      // install is needed on a lab machine.
      agentCommand: [process.execPath, [path.join(projectDir, 'bin', 'pipefitter.js')]],
      agentEnv: { ELECTRON_RUN_AS_NODE: '1' },
      onLog: (l) => process.stderr.write(`${l}\n`),
    });
    bridgeApi(ipcMain, engine.api, () => win?.webContents ?? null);
    try {
      await engine.start();
    } catch (err) {
      // A window over a dead engine would only show errors; say what failed and stop.
      dialog.showErrorBox('Pipefitter could not start', (err as Error).message);
      app.exit(1);
      return;
    }
    createWindow();
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) createWindow();
    });
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });

  let stopping = false;
  app.on('will-quit', (e) => {
    if (!engine || stopping) return;
    stopping = true;
    e.preventDefault();
    void engine.stop().finally(() => app.quit());
  });
}
