import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null = null;

/** The project root (where package.json names "pipefitter"), found from this module's location. */
export function projectRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (
      fs.existsSync(pkg) &&
      (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'pipefitter'
    ) {
      cached = dir;
      return dir;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the pipefitter package root');
    dir = up;
  }
}

/** argv to run the `pipefitter` command itself in a child process (same Node binary). */
export function selfCommand(...args: string[]): [string, string[]] {
  return [process.execPath, [path.join(projectRoot(), 'bin', 'pipefitter.js'), ...args]];
}
