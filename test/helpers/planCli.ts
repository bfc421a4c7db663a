import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { planCommand } from '../../native/cli/planCommand.js';

/** A cluster.json of two 40 GFLOP/s machines (a, b) with 8 GiB each and fast links, in a temp dir. */
export function twoMachineClusterFile(): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pf-plan-cli-')), 'cluster.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      machines: ['a', 'b'].map((id) => ({ id, gflops: 40, memoryBytes: 8 * 2 ** 30 })),
      links: { default: { gbps: 100 } },
    }),
  );
  return file;
}

/** `pipefitter plan` in this process, with what it wrote to stdout and stderr together. */
export async function runPlanCommand(
  values: Record<string, string | boolean>,
): Promise<{ code: number; out: string }> {
  const write = process.stdout.write.bind(process.stdout);
  const errWrite = process.stderr.write.bind(process.stderr);
  let out = '';
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((out += s), true)) as typeof process.stderr.write;
  try {
    return { code: await planCommand.run(values, []), out };
  } finally {
    process.stdout.write = write;
    process.stderr.write = errWrite;
  }
}
