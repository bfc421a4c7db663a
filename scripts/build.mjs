// Builds what runs outside a test runner: the CLI/engine bundle (dist/cli.js). Fast (esbuild), so
// `npm start`, `npm test` and `prepare` all call it.
import { build } from 'esbuild';

const started = Date.now();
await build({
  entryPoints: { cli: 'native/cli.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
process.stdout.write(`built dist/ in ${Date.now() - started} ms\n`);
