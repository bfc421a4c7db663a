import { BackendNameSchema } from '../protocol/inventorySchemas.js';
import { measureMatMulSpeed, probeAllBackends } from '../backend/probe.js';
import { UsageError, type Command } from './command.js';

/** Internal: the child process the agent runs for backend probes and speed measurements. */
export const backendWorkerCommand: Command = {
  name: '__backend-worker',
  summary:
    'Internal: probe compute backends or measure speed in an isolated process; prints one JSON line.',
  usage: '__backend-worker probe | speed <backend> [gpu index]',
  options: {},
  hidden: true,
  async run(_values, positionals) {
    const [what, backend, gpu] = positionals;
    if (what === 'probe') {
      process.stdout.write(JSON.stringify(await probeAllBackends()) + '\n');
      return 0;
    }
    if (what === 'speed') {
      const name = BackendNameSchema.safeParse(backend);
      if (!name.success) throw new UsageError(`unknown backend "${backend ?? ''}"`);
      const index = gpu === undefined ? null : Number(gpu);
      if (index !== null && !(Number.isInteger(index) && index >= 0))
        throw new UsageError(`GPU index must be a non-negative integer, got "${gpu}"`);
      process.stdout.write(JSON.stringify(await measureMatMulSpeed(name.data, index)) + '\n');
      return 0;
    }
    throw new UsageError('expected "probe" or "speed <backend>"');
  },
};
