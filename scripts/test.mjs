// Runs the test suites with Node's own test runner (through tsx for TypeScript).
//   node scripts/test.mjs [unit|integration|e2e ...]   (default: all, in that order)
// Files run one at a time: integration and e2e tests start real agent processes and bind real ports,
// and this machine has two cores. A test that hangs fails after TEST_TIMEOUT_MS instead of holding the
// whole run (CI has a time limit for all of it); a file whose tests are done exits even if a handle leaked.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const suites = process.argv.slice(2).length
  ? process.argv.slice(2)
  : ['unit', 'integration', 'e2e'];

function findTests(dir) {
  let out = [];
  let entries = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(findTests(p));
    else if (/\.test\.tsx?$/.test(name)) out.push(p);
  }
  return out;
}

const files = suites.flatMap((s) => findTests(path.join('test', s)));
if (files.length === 0) {
  console.error(`no test files found in ${suites.map((s) => `test/${s}`).join(', ')}`);
  process.exit(1);
}
const TEST_TIMEOUT_MS = Number(process.env.PIPEFITTER_TEST_TIMEOUT_MS ?? 600_000);
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=1',
    '--test-reporter=spec',
    `--test-timeout=${TEST_TIMEOUT_MS}`,
    '--test-force-exit',
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(result.status ?? 1);
