import type { Tf } from '../../native/backend/tfTypes.js';
import type { RunEvent } from '../../native/common/runEvents.js';
import type { Coordinator } from '../../native/coordinator/coordinator.js';
import type { RunSpec } from '../../native/coordinator/runSpec.js';
import type { NamedWeight } from '../../native/pipeline/stageExecutor.js';
import { RunOrchestrator } from '../../native/runs/runOrchestrator.js';

/**
 * Runs a spec through the orchestrator to its end (resumes included); `onEvent` sees every event as
 * it comes and may interfere (kill a stage, a machine). Returns the final weights and every event.
 */
export async function runToEnd(
  lab: Coordinator,
  tf: Tf,
  spec: RunSpec,
  onEvent: (e: RunEvent) => void = () => {},
): Promise<{ weights: NamedWeight[]; events: RunEvent[] }> {
  const run = new RunOrchestrator(lab, tf, spec);
  const events: RunEvent[] = [];
  run.on('event', (e) => {
    events.push(e);
    onEvent(e);
  });
  await run.start();
  await run.finished();
  const weights = await run.gatherWeights();
  await run.shutdown();
  return { weights, events };
}
