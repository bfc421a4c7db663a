import { BackendNameSchema } from '../protocol/inventorySchemas.js';
import { measureMatMulSpeed, measureProductAt, probeAllBackends } from '../backend/probe.js';
import { UsageError, type Command } from './command.js';

/** Internal: the child process the agent runs for backend probes and speed measurements. */
export const backendWorkerCommand: Command = {
  name: '__backend-worker',
  summary:
    'Internal: probe compute backends or measure speed in an isolated process; prints one JSON line.',
  usage:
    '__backend-worker probe | speed <backend> [gpu index] | product <backend> <start at, epoch ms>',
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
    if (what === 'product') {
      // One of several processes measuring side by side (probe.ts measureParallelCapacity).
      const name = BackendNameSchema.safeParse(backend);
      if (!name.success) throw new UsageError(`unknown backend "${backend ?? ''}"`);
      const startAt = Number(gpu);
      if (!Number.isFinite(startAt)) throw new UsageError('expected a start time in epoch ms');
      process.stdout.write(`${await measureProductAt(name.data, startAt)}\n`);
      return 0;
    }
    throw new UsageError('expected "probe", "speed <backend>" or "product <backend> <start>"');
  },
};
