#!/usr/bin/env node
// The `pipefitter` command. Runs the bundled build (dist/), made by `npm install` (prepare) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(bundle)) {
  process.stderr.write(
    'pipefitter: dist/cli.js is missing; run "npm run build" in the checkout first.\n',
  );
  process.exit(1);
}
const { main } = await import(bundle);
const code = await main(process.argv.slice(2));
// Sockets and timers are closed by each command; exit explicitly so a stray handle never hangs the CLI.
process.exit(code);
