// npm run bench:recovery
// mnist-mlp and deep-mlp on 3 local agent processes (wasm), checkpoints every N steps: what a
// checkpoint costs (the pause of a stage's step loop while its tensors are read back, and the
// background write) as a share of the time between checkpoints, and, after SIGKILL of the middle
// stage's process once two checkpoints are complete, the time until the stages train again and until
// the first step after it, and how many steps were trained again.
// Goals: checkpoint cost ≤ 3% of step time; training again ≤ 15 s after the loss; steps redone ≤ the
// checkpoint interval.
import os from 'node:os';
import type { RunEvent } from '../../native/common/runEvents.js';
import { checkpointInterval } from '../../native/coordinator/checkpointInterval.js';
import { getModel } from '../../native/model/catalogue.js';
import { coordinatorTf, RunOrchestrator } from '../../native/runs/runOrchestrator.js';
import { startAgent, stopAgent, testBeaconPort, type RunningAgent } from '../helpers/agents.js';
import { coordinatorFor } from '../helpers/lab.js';
import { evenSlices } from '../helpers/training.js';

const tf = await coordinatorTf();
const beaconPort = testBeaconPort();
const agents: RunningAgent[] = await Promise.all(
  [1, 2, 3].map((i) => startAgent({ name: `recovery-${i}`, beaconPort })),
);
const coordinator = await coordinatorFor(agents);
console.log(
  `bench:recovery: 3 local agents, wasm, ${os.cpus().length} cores (${os.cpus()[0]?.model}), load ${os.loadavg()[0]!.toFixed(2)}`,
);

const cases = [
  { model: 'mnist-mlp', batch: 64, every: 50, steps: 400 },
  { model: 'deep-mlp', batch: 256, every: 10, steps: 60 },
];
try {
  for (const c of cases) {
    const model = getModel(c.model);
    const run = new RunOrchestrator(coordinator, tf, {
      runId: `recovery-${c.model}-${process.pid}`,
      model,
      dataset: 'mnist',
      stages: evenSlices(model.layers.length, 3).map((s, k) => ({
        ...s,
        nodeId: agents[k]!.ready.nodeId,
      })),
      schedule: '1f1b',
      microbatches: 4,
      batch: c.batch,
      optimizer: { name: 'adam', learningRate: 0.001 },
      steps: c.steps,
      seed: 1,
      backend: 'wasm',
      checkpointEvery: c.every,
      onFailure: 'resume',
    });
    let started: Extract<RunEvent, { type: 'started' }> | null = null;
    const stepAt: number[] = [];
    let lastStepBeforeKill = -1;
    const saves: { copyMs: number; writeMs: number }[] = [];
    const at = { kill: 0, resumed: 0, firstStep: 0 };
    let fromStep = -1;
    run.on('event', (e) => {
      if (e.type === 'started') started = e;
      if (e.type === 'step') {
        if (at.kill === 0) {
          stepAt.push(performance.now());
          lastStepBeforeKill = e.step;
        } else if (at.resumed > 0 && at.firstStep === 0) at.firstStep = performance.now();
      }
      if (e.type === 'checkpoint') {
        saves.push({ copyMs: e.copyMs, writeMs: e.writeMs });
        if (e.step === 2 * c.every && at.kill === 0) {
          process.kill(started!.stages[1]!.pid, 'SIGKILL');
          at.kill = performance.now();
        }
      }
      if (e.type === 'resumed') {
        at.resumed = performance.now();
        fromStep = e.fromStep;
      }
    });
    await run.start();
    await run.finished();
    await run.shutdown();
    // Step time in steady state: the steps before the kill, after the first (warm-up).
    const stepMs = (stepAt.at(-1)! - stepAt[1]!) / (stepAt.length - 2);
    const copy = saves.reduce((a, s) => a + s.copyMs, 0) / saves.length;
    const write = saves.reduce((a, s) => a + s.writeMs, 0) / saves.length;
    const share = copy / (c.every * stepMs);
    console.log(
      `${c.model.padEnd(9)} batch ${c.batch}, checkpoint every ${c.every} steps: step ${stepMs.toFixed(1)} ms; ` +
        `checkpoint pause ${copy.toFixed(1)} ms (${(share * 100).toFixed(2)}% of step time, goal ≤ 3%), background write ${write.toFixed(1)} ms`,
    );
    // The interval a run chooses when not told (Young's formula from this measured pause).
    const young = checkpointInterval('young', copy, stepMs, 3);
    console.log(
      `${c.model.padEnd(9)} default interval: every ${young.every} steps (${young.seconds.toFixed(1)} s; ${young.why}): ` +
        `checkpoint pause ${(young.share * 100).toFixed(3)}% of step time (goal ≤ 3%)`,
    );
    console.log(
      `${c.model.padEnd(9)} SIGKILL of stage 1 → training again (resumed event) ${((at.resumed - at.kill) / 1000).toFixed(2)} s (goal ≤ 15 s), ` +
        `first step after it ${((at.firstStep - at.kill) / 1000).toFixed(2)} s; steps redone ${lastStepBeforeKill + 1 - fromStep} (from step ${fromStep}; goal ≤ ${c.every})`,
    );
  }
} finally {
  await coordinator.stop();
  await Promise.all(agents.map((a) => stopAgent(a, 'SIGKILL')));
}
process.exit(0);
