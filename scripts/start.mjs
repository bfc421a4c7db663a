// `npm start` (after the build): the desktop app where Electron's binary is installed, otherwise the same
// UI in browser mode, said in one line with the URL. Extra arguments go to `pipefitter web`
// (e.g. `npm start -- --port 0`). PIPEFITTER_INTERFACE=lo keeps the embedded agent on loopback.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Electron's binary, or why there is none (the npm package installs without its download here). */
function electronBinary() {
  try {
    const p = createRequire(import.meta.url)('electron');
    if (typeof p === 'string' && fs.existsSync(p)) return { path: p };
    return { why: `${p} does not exist` };
  } catch (err) {
    return { why: err.message.split('\n')[0] };
  }
}

function forwardSignals(child) {
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

const electron = electronBinary();
if (electron.path && process.env.PIPEFITTER_BROWSER !== '1') {
  forwardSignals(spawn(electron.path, [root], { stdio: 'inherit' }));
} else {
  const child = spawn(
    process.execPath,
    [path.join(root, 'bin', 'pipefitter.js'), 'web', '--json', ...process.argv.slice(2)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  forwardSignals(child);
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    let msg = null;
    try {
      msg = JSON.parse(line);
    } catch {
      // not the ready line
    }
    if (msg?.event !== 'ready') return void process.stdout.write(line + '\n');
    const why = electron.path
      ? 'PIPEFITTER_BROWSER=1 is set'
      : "Electron's binary is not installed here";
    process.stdout.write(`${why}; started browser mode instead, open ${msg.url}\n`);
  });
}
