// Builds what runs outside a test runner, fast enough that `npm start`, `npm test` and `prepare` all
// call it:
//   dist/cli.js            the CLI/engine bundle (esbuild)
//   dist/renderer/         the UI (vite), served by Electron (app://) and by `pipefitter web`
//   dist/main/main.cjs     Electron main, dist/main/preload.cjs its sandboxed preload (esbuild)
// Set PIPEFITTER_BUILD=cli to build only the CLI (the engine's own tests do not need the UI).
import { build } from 'esbuild';

const started = Date.now();
const only = process.env.PIPEFITTER_BUILD;
const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
};

const jobs = [
  build({ ...node, entryPoints: { cli: 'native/cli.ts' }, outdir: 'dist', format: 'esm' }),
];
if (only !== 'cli') {
  jobs.push(
    // Electron loads main and preload as CommonJS (a sandboxed preload must be). The engine code reads
    // import.meta.url to find the package root, so give the CJS bundle a real one.
    build({
      ...node,
      entryPoints: { main: 'main/main.ts' },
      outdir: 'dist/main',
      outExtension: { '.js': '.cjs' },
      format: 'cjs',
      external: ['electron'],
      define: { 'import.meta.url': '__pipefitterImportMetaUrl' },
      banner: {
        js: "const __pipefitterImportMetaUrl = require('node:url').pathToFileURL(__filename).href;",
      },
    }),
    build({
      ...node,
      entryPoints: { preload: 'main/preload.ts' },
      outdir: 'dist/main',
      outExtension: { '.js': '.cjs' },
      format: 'cjs',
      packages: undefined,
      external: ['electron'],
    }),
    import('vite').then(({ build: viteBuild }) =>
      viteBuild({ configFile: 'vite.config.ts', logLevel: 'warn' }),
    ),
  );
}
await Promise.all(jobs);
process.stdout.write(`built dist/ in ${Date.now() - started} ms\n`);
