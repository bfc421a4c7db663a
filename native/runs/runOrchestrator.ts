import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import { initBackend } from '../backend/initBackend.js';
import type { Tf } from '../backend/tfTypes.js';
import type { RunEvent } from '../common/runEvents.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { RunController } from '../coordinator/runController.js';
import { machinesNotOnline, type MachineWording } from '../coordinator/runPreflight.js';
import type { RunSpec, RunStagePlacement } from '../coordinator/runSpec.js';
import { writeModelFiles } from '../pipeline/modelFiles.js';
import type { Plan } from '../planner/planSchema.js';
import { planPlacements, runnableStages } from '../planner/planTopology.js';

/** A run's id: its start time to the second, and 6 random hex digits. */
export function newRunId(now = new Date()): string {
  return `run-${now.toISOString().replace(/[-:]/g, '').slice(0, 15)}-${crypto.randomBytes(3).toString('hex')}`;
}

let coordinatorTfOnce: Promise<Tf> | null = null;

/** The coordinator's tfjs: it initialises weights and writes the trained model; pure JS does both. */
export function coordinatorTf(): Promise<Tf> {
  coordinatorTfOnce ??= initBackend({ prefer: 'cpu' }).then((c) => c.tf);
  return coordinatorTfOnce;
}

/**
 * Why this plan cannot start now, each problem in the words of who asks (`wording`): a topology the
 * runtime does not run yet, or machines this coordinator has not found or that are not online.
 * Empty when it can start.
 */
export function planProblems(
  plan: Plan,
  coordinator: Coordinator,
  wording: MachineWording,
): string[] {
  try {
    runnableStages(plan);
  } catch (err) {
    return [(err as Error).message];
  }
  return machinesNotOnline(
    coordinator.registry,
    planPlacements(plan).map(({ stage, placement: p }) => ({
      stage,
      machineId: p.machineId,
      machineName: p.machineName,
    })),
    wording,
  );
}

/** The plan's stages as a run places them: one layer range and one machine (and GPU) each. */
export function planRunStages(plan: Plan): RunStagePlacement[] {
  return runnableStages(plan).map(({ start, end, placement: p }) => ({
    start,
    end,
    nodeId: p.machineId,
    ...(p.gpu === null ? {} : { gpu: p.gpu }),
  }));
}

interface OrchestratorEvents {
  event: [RunEvent];
}

/**
 * One run from start to end, the same for `pipefitter train` and the app's RunService: start (the
 * run's own preflight, spawning, wiring), its events, the end of a finished run (gather the weights,
 * write the model files, shut the stages down) and stop. Callers keep their presentation (progress
 * line, JSON lines, run records) and their setup (local agents, discovery, the run store).
 */
export class RunOrchestrator extends EventEmitter<OrchestratorEvents> {
  private readonly controller: RunController;

  constructor(
    coordinator: Coordinator,
    private readonly tf: Tf,
    readonly spec: RunSpec,
  ) {
    super();
    this.controller = new RunController(coordinator, tf, spec);
    this.controller.on('event', (e) => this.emit('event', e));
  }

  /** Resolves once every stage is training; rejects (after a `failed` event) if the run cannot start. */
  start(): Promise<void> {
    return this.controller.start();
  }

  /** Resolves when every stage has finished its steps; rejects with the run's failure otherwise. */
  finished(): Promise<void> {
    return this.controller.finishedPromise();
  }

  /**
   * The end of a finished run: gathers every stage's weights, writes `model.json` + `weights.bin`
   * into `dir` and shuts the stages down (also when saving fails). Returns the model.json path.
   */
  async saveModel(dir: string): Promise<string> {
    try {
      const weights = await this.controller.gatherWeights();
      const file = await writeModelFiles(this.tf, this.spec.model, weights, dir);
      await this.controller.shutdown();
      return file;
    } catch (err) {
      await this.controller.shutdown().catch(() => {});
      throw err;
    }
  }

  /** Stops the run: a `failed` event with `message`, then every stage is stopped. */
  stop(message: string): Promise<void> {
    return this.controller.fail(message);
  }
}
