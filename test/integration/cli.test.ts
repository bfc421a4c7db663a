import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import readline from 'node:readline';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CLI, tempDir, testBeaconPort, TEST_TOKEN } from '../helpers/agents.js';

const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, PIPEFITTER_TOKEN: '', ...env },
  });

describe('the pipefitter command', () => {
  const help = run(['--help']);
  const commands = [...help.stdout.matchAll(/^ {2}([a-z][a-z-]*) {2,}/gm)].map((m) => m[1]!);

  it('lists its commands', () => {
    assert.equal(help.status, 0);
    for (const c of ['agent', 'nodes'])
      assert.ok(commands.includes(c), `${c} listed in:\n${help.stdout}`);
    assert.ok(!help.stdout.includes('__backend-worker'), 'internal commands stay hidden');
  });

  it('has --help on every subcommand', () => {
    for (const c of commands) {
      const r = run([c, '--help']);
      assert.equal(r.status, 0, `${c} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: pipefitter ${c}`), c);
      assert.match(r.stdout, /--help/);
    }
  });

  it('rejects unknown commands and options with exit code 2 and says what is wrong', () => {
    const a = run(['frobnicate']);
    assert.equal(a.status, 2);
    assert.match(a.stderr, /unknown command "frobnicate"/);
    const b = run(['agent', '--colour', 'blue']);
    assert.equal(b.status, 2);
    assert.match(b.stderr, /Unknown option '--colour'/);
    const c = run(['agent', '--port', 'eighty']);
    assert.equal(c.status, 2);
    assert.match(c.stderr, /--port must be an integer/);
    const d = run(['nodes', '--token', 'letmein', '--wait', '0']);
    assert.equal(d.status, 2);
    assert.match(d.stderr, /token must look like pf1\./);
  });

  it('creates the lab token on first run, shows it once with the join command, and reuses it', () => {
    const dir = tempDir();
    const first = run(['nodes', '--wait', '0', '--state-dir', dir, '--beacon-port', '1']);
    assert.equal(first.status, 0, first.stderr);
    const token = fs.readFileSync(path.join(dir, 'token'), 'utf8').trim();
    assert.match(
      first.stderr,
      new RegExp(`Created this lab's join token: ${token.replace('.', '\\.')}`),
    );
    assert.match(first.stderr, /pipefitter agent --token pf1\./);
    const second = run(['nodes', '--wait', '0', '--state-dir', dir, '--beacon-port', '1']);
    assert.equal(second.status, 0);
    assert.doesNotMatch(second.stderr, /Created/);
    assert.match(second.stdout, /No agents found/);
  });

  it('an agent started with --exit-with-stdin stops cleanly when its parent closes the pipe', async () => {
    const child = spawn(
      process.execPath,
      [
        CLI,
        'agent',
        '--json',
        '--exit-with-stdin',
        '--no-benchmark',
        '--interface',
        'lo',
        '--port',
        '0',
        '--beacon-port',
        String(testBeaconPort()),
        '--state-dir',
        tempDir(),
        '--token',
        TEST_TOKEN,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) =>
      readline
        .createInterface({ input: child.stdout })
        .on('line', (l) => l.includes('"ready"') && resolve()),
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.stdin.end();
    assert.equal(await exited, 0);
  });
});
