import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';

/**
 * The one place that finds the Chromium every e2e test and UI bench drives. In order:
 *   PIPEFITTER_CHROMIUM=/path/to/chrome   that binary
 *   PIPEFITTER_CHROMIUM=system            Debian's /usr/bin/chromium, or fail (what .ci/run sets)
 *   PIPEFITTER_CHROMIUM=packaged          the Chromium inside the npm package @sparticuz/chromium
 *   unset or auto                         Debian's where installed, else the packaged one
 * so `npm install && npm test` runs the browser tests for real on a machine that reaches only npm.
 */
export const CHROMIUM = '/usr/bin/chromium';

const root = path.resolve(import.meta.dirname, '../..');

export interface ChromiumChoice {
  executablePath: string;
  /** Environment the browser needs (the packaged one: its own libraries and fonts). */
  env?: Record<string, string>;
  /** One line: which browser, and why. */
  line: string;
}

/** A browser that cannot be used: the message is the one line a person needs. */
export class NoChromiumError extends Error {
  override name = 'NoChromiumError';
}

/** The packaged Chromium, decompressed once into node_modules/.cache (about 200 MB). */
async function packagedChromium(why: string): Promise<ChromiumChoice> {
  const require = createRequire(import.meta.url);
  let pkgDir: string;
  try {
    pkgDir = path.resolve(path.dirname(require.resolve('@sparticuz/chromium')), '../..');
  } catch {
    throw new NoChromiumError(
      `e2e browser: none: ${why}, and @sparticuz/chromium is not installed (npm install)`,
    );
  }
  const version = (
    JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string }
  ).version;
  const dir = path.join(root, 'node_modules', '.cache', 'pipefitter', `chromium-${version}`);
  try {
    if (!fs.existsSync(path.join(dir, 'ready'))) await unpack(path.join(pkgDir, 'bin'), dir);
  } catch (err) {
    throw new NoChromiumError(
      `e2e browser: none: ${why}, and @sparticuz/chromium ${version} did not unpack into ${dir}: ${(err as Error).message}`,
    );
  }
  return {
    executablePath: path.join(dir, 'chromium'),
    env: {
      // Built for Amazon Linux: it brings NSS, NSPR and expat, which a bare Debian lacks.
      LD_LIBRARY_PATH: [path.join(dir, 'al2023', 'lib'), process.env.LD_LIBRARY_PATH]
        .filter(Boolean)
        .join(':'),
      FONTCONFIG_FILE: path.join(dir, 'fonts.conf'),
    },
    line: `e2e browser: Chromium ${version} from @sparticuz/chromium (${why})`,
  };
}

/**
 * Decompresses the package's brotli files (the binary, its SwiftShader GL libraries, its Amazon Linux
 * libraries, its fonts) into a private folder that is renamed into place whole, so a concurrent or
 * interrupted unpack never leaves a half-written browser behind. The package's own executablePath()
 * unpacks into the shared /tmp without that care and, on Amazon Linux only, rewrites this process's
 * LD_LIBRARY_PATH, which every child process the tests start would inherit.
 */
async function unpack(bin: string, dir: string): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  fs.mkdirSync(tmp, { recursive: true });
  try {
    await pipeline(
      fs.createReadStream(path.join(bin, 'chromium.br')),
      zlib.createBrotliDecompress(),
      fs.createWriteStream(path.join(tmp, 'chromium'), { mode: 0o755 }),
    );
    await untar(path.join(bin, 'swiftshader.tar.br'), tmp);
    await untar(path.join(bin, 'al2023.tar.br'), path.join(tmp, 'al2023'));
    await untar(path.join(bin, 'fonts.tar.br'), path.join(tmp, 'fonts'));
    // The package's fonts.conf names /tmp/fonts; ours names where the fonts are, then the system's.
    fs.writeFileSync(
      path.join(tmp, 'fonts.conf'),
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n` +
        `  <dir>${path.join(dir, 'fonts', 'fonts')}</dir>\n  <dir>/usr/share/fonts</dir>\n` +
        `  <cachedir>${path.join(dir, 'fonts-cache')}</cachedir>\n</fontconfig>\n`,
    );
    fs.writeFileSync(path.join(tmp, 'ready'), '');
    try {
      fs.renameSync(tmp, dir);
    } catch (err) {
      // Another process unpacked it first: use theirs.
      if (!fs.existsSync(path.join(dir, 'ready'))) throw err;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function untar(file: string, dest: string): Promise<void> {
  fs.mkdirSync(dest, { recursive: true });
  // --ignore-zeros: read to the end of the stream, so tar never exits while the decompressor still
  // writes the archive's trailing padding (that was a 'Premature close', now and then).
  const tar = spawn('tar', ['-x', '--ignore-zeros', '--no-same-owner', '-C', dest], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve, reject) => {
    tar.on('error', reject);
    tar.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`tar ${path.basename(file)}: ${stderr.trim()}`)),
    );
  });
  const piped = pipeline(fs.createReadStream(file), zlib.createBrotliDecompress(), tar.stdin).then(
    () => null,
    (err: Error) => err,
  );
  await exited;
  // tar has read a whole archive and exited 0: a pipe it closed behind it is no error.
  const err = await piped;
  if (
    err &&
    !/premature close|EPIPE/i.test(`${err.message} ${(err as NodeJS.ErrnoException).code ?? ''}`)
  )
    throw err;
}

/** Which Chromium to use, and why (see the top of this file). Throws NoChromiumError with one line. */
export async function findChromium(
  opts: { setting?: string; systemPath?: string } = {},
): Promise<ChromiumChoice> {
  const s = (opts.setting ?? process.env.PIPEFITTER_CHROMIUM ?? 'auto').trim() || 'auto';
  const system = opts.systemPath ?? CHROMIUM;
  if (s === 'packaged') return packagedChromium('PIPEFITTER_CHROMIUM=packaged');
  if (s === 'system' || s === 'auto') {
    if (fs.existsSync(system))
      return {
        executablePath: system,
        line: `e2e browser: Debian's Chromium ${system} (${s === 'system' ? 'PIPEFITTER_CHROMIUM=system' : 'installed'})`,
      };
    if (s === 'system')
      throw new NoChromiumError(
        `e2e browser: none: PIPEFITTER_CHROMIUM=system but ${system} is missing (apt-get install -y chromium)`,
      );
    return packagedChromium(`${system} is missing`);
  }
  if (!path.isAbsolute(s))
    throw new NoChromiumError(
      `e2e browser: none: PIPEFITTER_CHROMIUM="${s}" is not auto, system, packaged or an absolute path`,
    );
  if (!fs.existsSync(s))
    throw new NoChromiumError(`e2e browser: none: PIPEFITTER_CHROMIUM=${s} does not exist`);
  return { executablePath: s, line: `e2e browser: ${s} (PIPEFITTER_CHROMIUM)` };
}

const announced = new Set<string>();

/** The chosen Chromium, headless, with nothing that reaches the network on its own. */
export async function launchChromium(
  extraArgs: string[] = [],
  choice?: ChromiumChoice,
): Promise<Browser> {
  choice ??= await findChromium();
  if (!announced.has(choice.line)) console.log(choice.line);
  announced.add(choice.line);

  try {
    return await chromium.launch({
      executablePath: choice.executablePath,
      env: choice.env ? { ...process.env, ...choice.env } : undefined,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        ...extraArgs,
      ],
    });
  } catch (err) {
    throw new NoChromiumError(`${choice.line} does not start: ${(err as Error).message}`);
  }
}
