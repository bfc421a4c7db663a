// The project's own install step (package.json "postinstall"): fetch Electron's binary with
// Electron's own installer. npm does not run the electron package's script ("electron": false in
// allowScripts), because its failing download would fail the whole `npm install` on a machine that
// reaches only the npm registry. Here a failure is one line saying what is missing and what still
// works, and the install goes on.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const timeoutS = Number(process.env.PIPEFITTER_ELECTRON_TIMEOUT_S ?? 300);

function say(line) {
  process.stderr.write(`pipefitter install: ${line}\n`);
}

function whyFailed(output, code, signal) {
  if (signal) return `the download did not finish within ${timeoutS} s`;
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const cause =
    lines.find((l) =>
      /^(\w*Error|HTTPError|RequestError)\b|ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|status code/i.test(
        l,
      ),
    ) ?? lines[0];
  return cause ? cause.slice(0, 200) : `the installer exited with ${code}`;
}

let installer;
try {
  installer = require.resolve('electron/install.js');
} catch {
  // A production install without devDependencies: nothing to do.
  process.exit(0);
}
if (process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) process.exit(0);

const child = spawn(process.execPath, [installer], { stdio: ['ignore', 'pipe', 'pipe'] });
let output = '';
child.stdout.on('data', (d) => (output += d));
child.stderr.on('data', (d) => (output += d));
const timer = setTimeout(() => child.kill('SIGTERM'), timeoutS * 1000);
child.on('close', (code, signal) => {
  clearTimeout(timer);
  if (code === 0) process.exit(0);
  say(
    `Electron's binary is not installed (${whyFailed(output, code, signal)}): the desktop app ` +
      '(npm start, npm run dist) and its Electron test are unavailable; the CLI, agents, training ' +
      'and the browser UI (pipefitter web) work. To add it later: node node_modules/electron/install.js',
  );
  process.exit(0);
});
