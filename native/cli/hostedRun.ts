import type { Coordinator } from '../coordinator/coordinator.js';
import type { NodeRecord } from '../coordinator/nodeRecord.js';
import type { Plan } from '../planner/planSchema.js';
import { planDriver, type RunHostClient } from '../runs/runHostClient.js';
import type { RunDriver } from '../runs/runSchemas.js';
import type { RunPrinter } from './runPrinter.js';
import { UsageError } from './command.js';

/**
 * The agent that drives a run started from the CLI: the one `--driver` names (name or id), else the
 * first stage's machine, which the run cannot do without anyway.
 */
export function chooseDriver(coordinator: Coordinator, plan: Plan, named?: string): NodeRecord {
  const online = coordinator.nodes().filter((n) => n.state === 'online');
  if (named !== undefined) {
    const n = online.find((x) => x.id === named || x.name === named);
    if (!n)
      throw new UsageError(
        `--driver ${named}: no such agent online (online: ${online.map((x) => x.name).join(', ') || 'none'})`,
      );
    return n;
  }
  const n = planDriver(coordinator, plan);
  if (!n) throw new Error("none of the plan's machines is online to drive the run");
  return n;
}

/**
 * Prints a driven run's records from its start to its end, following the run to the agent that takes
 * it over if its driver's machine is lost (`onDriver` hears of it); at a completed end fetches the
 * trained model into `out` (when given). Returns the exit code: 0 for a completed run, 1 otherwise.
 */
export async function followToEnd(
  client: RunHostClient,
  printer: RunPrinter,
  driver: RunDriver,
  runId: string,
  out: string | null,
  onDriver: (d: RunDriver) => void = () => {},
): Promise<number> {
  let nodeId = driver.nodeId;
  const records = client.followAnywhere(driver, runId, 0, {
    onDriver: (d) => {
      printer.say(`${driver.name} does not answer; ${d.name} drives run ${runId} now`);
      nodeId = d.nodeId;
      driver = d;
      onDriver(d);
    },
  });
  for await (const record of records) {
    if (record.kind === 'meta') printer.setBatch(record.plan.batch);
    if (record.kind === 'event') printer.event(record.event);
    if (record.kind !== 'end') continue;
    printer.end();
    if (record.status === 'completed') {
      if (out === null) return 0;
      printer.exported(await client.fetchModel(nodeId, runId, out));
      return 0;
    }
    const message = `run ${record.status}${record.message ? `: ${record.message}` : ''}`;
    if (!printer.failurePrinted && printer.json)
      printer.jsonLine({ type: 'failed', message: record.message ?? record.status });
    process.stderr.write(`pipefitter: ${message}\n`);
    return 1;
  }
  throw new Error(`the records of run ${runId} ended before the run did`);
}
