import readline from 'node:readline';
import { StageHost } from '../pipeline/stageHost.js';
import { StageHostBootSchema } from '../pipeline/stageProtocol.js';
import type { Command } from './command.js';

/** Internal: the process an agent starts to host one pipeline stage (see agent/stageProcesses.ts). */
export const stageHostCommand: Command = {
  name: '__stage-host',
  summary:
    'Internal: host one pipeline stage; reads its boot line on stdin, exits when stdin closes.',
  usage: '__stage-host',
  options: {},
  hidden: true,
  async run() {
    const rl = readline.createInterface({ input: process.stdin });
    const first = await new Promise<string | null>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(null));
    });
    if (first === null) return 1;
    const boot = StageHostBootSchema.parse(JSON.parse(first));
    const host = new StageHost(boot);
    await host.start();
    process.stdout.write(JSON.stringify({ event: 'ready', port: host.port }) + '\n');
    return new Promise<number>((resolve) => {
      host.once('exit', resolve);
      // The agent closing our stdin (or dying) ends the stage.
      rl.once('close', () => void host.stop(0));
      process.once('SIGTERM', () => void host.stop(0));
      process.once('SIGINT', () => void host.stop(0));
    });
  },
};
