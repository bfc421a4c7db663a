import path from 'node:path';
import { formatAgo } from '../common/format.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { drivenThere, RunHostClient, type HostedRun } from '../runs/runHostClient.js';
import { isLive } from '../runs/summarize.js';
import { table } from '../util/format.js';
import { numberOption, UsageError, type Command } from './command.js';
import { startLabCoordinator, trustOptions } from './common.js';
import { followToEnd } from './hostedRun.js';
import { RunPrinter } from './runPrinter.js';

const findOptions = {
  wait: {
    type: 'string',
    valueName: 'seconds',
    description: "how long to look for the lab's agents (default 2)",
  },
  peer: {
    type: 'string',
    multiple: true,
    valueName: 'host:port',
    description: 'also ask this agent (repeatable)',
  },
  ...trustOptions,
} satisfies Command['options'];

/** Finds the lab's agents for `--wait` seconds, then gives `use` a client of their run hosts. */
async function withRunHosts<T>(
  values: Record<string, unknown>,
  use: (client: RunHostClient, coordinator: Coordinator) => Promise<T>,
): Promise<T> {
  const waitS = numberOption(values.wait, 'wait', 0, 3600) ?? 2;
  const coordinator = await startLabCoordinator(values);
  try {
    await new Promise((r) => setTimeout(r, waitS * 1000));
    return await use(new RunHostClient(coordinator), coordinator);
  } finally {
    await coordinator.stop();
  }
}

/** A run listed only by a standby's copy: its driver does not answer. */
const driverLost = (r: HostedRun) => !drivenThere(r) && isLive(r.summary);

function runRow(r: HostedRun, now: number): string[] {
  const s = r.summary;
  return [
    s.id,
    driverLost(r) ? 'driver lost' : s.status,
    `${s.steps}/${s.totalSteps ?? '?'}`,
    s.model,
    s.machines.join(', '),
    driverLost(r) ? `${s.driver?.name ?? '?'} (a copy on ${r.driver})` : r.driver,
    `${formatAgo(now - s.startedAt)} ago`,
    s.finalAccuracy === null ? '—' : `${(s.finalAccuracy * 100).toFixed(2)}%`,
  ];
}

export const runsCommand: Command = {
  name: 'runs',
  summary: "List the runs the lab's agents drive: live ones and past ones.",
  usage: 'runs [--wait SECONDS] [--json] [--peer host:port]…',
  options: {
    json: { type: 'boolean', description: 'print the runs as a JSON array' },
    ...findOptions,
  },
  async run(values) {
    const { runs } = await withRunHosts(values, (client) => client.listAll());
    if (values.json) {
      process.stdout.write(JSON.stringify(runs, null, 2) + '\n');
    } else if (runs.length === 0) {
      process.stdout.write('No runs found on the agents that answered.\n');
    } else {
      const now = Date.now();
      process.stdout.write(
        table(
          ['ID', 'STATUS', 'STEP', 'MODEL', 'MACHINES', 'DRIVER', 'STARTED', 'ACCURACY'],
          runs.map((r) => runRow(r, now)),
        ) + '\n',
      );
    }
    return 0;
  },
};

const RUN_ACTIONS = ['attach', 'stop', 'resume', 'replan'] as const;

export const runCommand: Command = {
  name: 'run',
  summary:
    'Attach to a run an agent drives (its whole history, then live), stop it, move it onto the machines online now (replan), or resume one whose driver is lost.',
  usage:
    'run attach|stop|replan|resume <run id> [--json] [--out dir] [--wait SECONDS] [--peer host:port]…',
  options: {
    json: {
      type: 'boolean',
      description: 'attach: print one JSON line per event instead of a progress bar',
    },
    out: {
      type: 'string',
      valueName: 'dir',
      description:
        'attach: where to write the trained model when the run completes (default ./pipefitter-runs/<run id>)',
    },
    ...findOptions,
  },
  async run(values, positionals = []) {
    const [action, id, ...extra] = positionals;
    if (!action || !(RUN_ACTIONS as readonly string[]).includes(action))
      throw new UsageError(
        `say what to do: ${RUN_ACTIONS.join(' or ')} (pipefitter run attach ID)`,
      );
    if (!id)
      throw new UsageError(`which run? pipefitter run ${action} <run id> (see pipefitter runs)`);
    if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    try {
      return await withRunHosts(values, async (client) => {
        const run = await client.find(id);
        const runId = run.summary.id;
        if (action === 'stop') {
          const status = await client.stop(run.nodeId, runId);
          process.stdout.write(`run ${runId} on ${run.driver}: ${status}\n`);
          return 0;
        }
        if (action === 'replan') {
          const message = await client.replan(run.nodeId, runId);
          process.stdout.write(`run ${runId} on ${run.driver}: ${message}\n`);
          return 0;
        }
        if (action === 'resume') {
          const { status } = run.summary;
          if (drivenThere(run) && isLive(run.summary))
            throw new Error(`run ${runId} is live on ${run.driver}: nothing to resume`);
          if (drivenThere(run) && status !== 'failed' && status !== 'interrupted')
            throw new Error(
              `run ${runId} ${status} on ${run.driver}; only a failed or interrupted run, or one whose driver is lost, can be resumed`,
            );
          const r = await client.resume(run.nodeId, runId);
          process.stdout.write(`run ${runId} resumed on ${run.driver} from step ${r.fromStep}\n`);
          return 0;
        }
        const printer = new RunPrinter(values.json === true, 1, null);
        if (!printer.json) printer.say(`run ${runId}, driven by ${run.driver}`);
        const out = path.resolve(
          (values.out as string | undefined) ?? path.join('pipefitter-runs', runId),
        );
        return await followToEnd(
          client,
          printer,
          { nodeId: run.nodeId, name: run.driver },
          runId,
          out,
        );
      });
    } catch (err) {
      process.stderr.write(`pipefitter run: ${(err as Error).message}\n`);
      return 1;
    }
  },
};
