import crypto from 'node:crypto';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { initBackend } from '../backend/initBackend.js';
import type { Tf } from '../backend/tfTypes.js';
import type { RunEvent } from '../common/runEvents.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { RunController } from '../coordinator/runController.js';
import { machinesNotOnline, type MachineWording } from '../coordinator/runPreflight.js';
import { clusterFromNodes } from '../coordinator/nodesToCluster.js';
import {
  hasReplicas,
  chunksOfRun,
  replicaCount,
  workersOf,
  type RunCheckpoint,
  type RunSpec,
  type RunStagePlacement,
  type RunState,
} from '../coordinator/runSpec.js';
import { makePlan, PlanError, type PlanOutcome, type PlanRequest } from '../planner/plan.js';
import { CheckpointCopies } from './checkpointCopies.js';
import type { NamedWeight } from '../pipeline/stageExecutor.js';
import { ControlType } from '../protocol/version.js';
import { writeModelFiles } from '../pipeline/modelFiles.js';
import type { Placement, Plan } from '../planner/planSchema.js';
import type { ModelSpec } from '../model/spec.js';
import { DEFAULT_ON_FAILURE, FIRST_CHECKPOINT_STEPS } from '../common/defaults.js';
import type { RunDriver, RunSettings } from './runSchemas.js';
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

/** The plan's stages as a run places them: one layer range, and a machine (and GPU) per replica. */
export function planRunStages(plan: Plan): RunStagePlacement[] {
  const place = (p: Placement) => ({
    nodeId: p.machineId,
    ...(p.gpu === null ? {} : { gpu: p.gpu }),
  });
  return runnableStages(plan).map(({ start, end, chunks, replicas, shares }) => ({
    start,
    end,
    ...(chunks.length > 1 ? { chunks } : {}),
    ...place(replicas[0]!),
    ...(replicas.length > 1 ? { replicas: replicas.slice(1).map(place) } : {}),
    ...(replicas.length > 1 && shares ? { shares } : {}),
  }));
}

/**
 * The run a plan and a person's settings make, as RunOrchestrator trains it (the app's runs, a run
 * driven by an agent, `pipefitter train --local`): the plan's stages, schedule and batch; the
 * settings' data, length, optimizer and recovery, with their defaults.
 */
export function planRunSpec(
  runId: string,
  plan: Plan,
  model: ModelSpec,
  settings: RunSettings,
): RunSpec {
  return {
    runId,
    model,
    dataset: settings.dataset,
    stages: planRunStages(plan),
    schedule: plan.schedule,
    microbatches: plan.microbatches,
    batch: plan.batch,
    optimizer: { name: settings.optimizer, learningRate: settings.learningRate },
    epochs: settings.steps === undefined ? (settings.epochs ?? 1) : undefined,
    steps: settings.steps,
    seed: settings.seed ?? 1,
    backend: settings.backend ?? 'auto',
    // Steps if the person said steps; else a first checkpoint that measures a save, then by time.
    ...(settings.checkpointEvery !== undefined
      ? { checkpointEvery: settings.checkpointEvery }
      : {
          checkpointEvery: FIRST_CHECKPOINT_STEPS,
          checkpointSeconds: settings.checkpointSeconds ?? 'young',
        }),
    onFailure: settings.onFailure ?? DEFAULT_ON_FAILURE,
    ...(settings.sync && settings.sync.kind !== 'every-step' ? { sync: settings.sync } : {}),
  };
}

interface OrchestratorEvents {
  event: [RunEvent];
}

/** A run another agent drove until its machine was lost, taken over here from a checkpoint copy. */
export interface RunTakeover {
  /** The whole model's state at the newest checkpoint this agent has a copy of. */
  state: RunState;
  /** Why: the old driver and what became of it, for the `resumed` event. */
  reason: string;
  /** The agent that drives the run from here on, when it is not the one that drove it so far. */
  driver?: RunDriver;
  /** The old driver, lost: its machine is never planned on, even if it answers again meanwhile. */
  lost?: RunDriver;
}

/** A machine that comes back is taken back when a plan with it predicts this much more throughput. */
const TAKE_BACK_GAIN = 1.05;

/** A move of a live run onto another layout, due at its next complete checkpoint. */
interface PlannedMove {
  stages: RunStagePlacement[];
  why: string;
  /** Set once that checkpoint has come and the stages are being restarted. */
  armed: boolean;
}

/** How many machines a layout trains on. */
const machinesIn = (stages: RunStagePlacement[]) =>
  new Set(workersOf(stages).map((w) => w.nodeId)).size;

/** Whether two layouts place the same layers on the same machines and GPUs. */
function sameStages(a: RunStagePlacement[], b: RunStagePlacement[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (s, k) =>
        s.start === b[k]!.start &&
        s.end === b[k]!.end &&
        JSON.stringify(s.chunks ?? []) === JSON.stringify(b[k]!.chunks ?? []) &&
        s.nodeId === b[k]!.nodeId &&
        s.gpu === b[k]!.gpu &&
        JSON.stringify(s.replicas ?? []) === JSON.stringify(b[k]!.replicas ?? []),
    )
  );
}

/** The planner's outcome, with a request it refuses outright as a reason too. */
function planOrReason(req: PlanRequest): PlanOutcome {
  try {
    return makePlan(req);
  } catch (err) {
    if (err instanceof PlanError) return { ok: false, reason: err.message };
    throw err;
  }
}

/** How often a run restarts from its checkpoints before a lost stage fails it after all. */
const MAX_RESUMES = 3;
/** A checkpoint a stage refused (torn, changed, missing): the run falls back to an older one. */
const REFUSED_CHECKPOINT =
  /checkpoint .*(torn|changed after|not the one|not a Pipefitter|unreadable|inconsistent|cannot read)/;

/**
 * One run from start to end, the same for `pipefitter train` and the app's RunService: start (the
 * run's own preflight, spawning, wiring), its events, the end of a finished run (gather the weights,
 * write the model files, shut the stages down) and stop. Callers keep their presentation (progress
 * line, JSON lines, run records) and their setup (local agents, discovery, the run store).
 *
 * With `onFailure: 'resume'` and checkpoints, a lost stage does not end the run: the stages are
 * stopped, started again on the same machines from the newest checkpoint every stage completed
 * (an older one if a stage refuses it), and the run goes on (`resumed` event) instead of `failed`.
 */
export class RunOrchestrator extends EventEmitter<OrchestratorEvents> {
  private controller!: RunController;
  /** Complete checkpoints, oldest first (the newest two are kept). */
  private readonly checkpoints: RunCheckpoint[] = [];
  private resumes = 0;
  private checkpointsSeen = 0;
  private stopping = false;
  /** The run as it trains now: its stages move when a machine is lost and the run is re-planned. */
  private current: RunSpec;
  /** The driver's copies of complete checkpoints, for a resume without a lost machine's files. */
  private readonly copies: CheckpointCopies;
  /** Set between a lost stage and the resumed run's start: the reason, for the `resumed` event. */
  private resuming: {
    reason: string;
    fromStep: number;
    notes: string[];
    /** Machines left out by a re-plan. */
    lost?: string[];
    /** Machines a re-plan took as fast as the others: their speed was not measured yet. */
    assumed?: string[];
  } | null = null;
  private readonly outcome: Promise<void>;
  private settle!: { resolve: () => void; reject: (e: Error) => void };
  /** Machines this run was re-planned without: taken back when they answer again and gain. */
  private readonly lostIds = new Set<string>();
  /**
   * A re-plan at the next complete checkpoint (a lost machine is back, or `run replan`): its stages
   * and why; `armed` once that checkpoint has come and the stages are being restarted.
   */
  private planned: PlannedMove | null = null;
  /** Planned re-plans so far: they do not count against MAX_RESUMES. */
  private replans = 0;
  private linksMeasured = false;

  /** `takeover`: the run was driven elsewhere until now; `start` resumes it from `takeover.state`. */
  constructor(
    private readonly coordinator: Coordinator,
    private readonly tf: Tf,
    readonly spec: RunSpec,
    private readonly takeover: RunTakeover | null = null,
  ) {
    super();
    this.current = spec;
    this.copies = RunOrchestrator.copiesOf(coordinator, spec.runId);
    this.outcome = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // A caller that never waits for the end must not see an unhandled rejection.
    this.outcome.catch(() => {});
    if (!takeover) this.controller = this.attach(new RunController(coordinator, tf, spec));
  }

  private attach(c: RunController): RunController {
    c.on('event', (e) => this.onEvent(c, e));
    c.finishedPromise().then(
      () => {
        if (c !== this.controller) return;
        void this.copies.settled().then(() => this.copies.clear());
        this.settle.resolve();
      },
      (err: Error) => void this.onFailed(c, err),
    );
    return c;
  }

  private onEvent(c: RunController, e: RunEvent): void {
    if (c !== this.controller) return;
    if (e.type === 'started' && !this.linksMeasured) {
      this.linksMeasured = true;
      // For the re-plans to come (which go on at once and measure nothing): the links between the
      // machines online, where this coordinator has none cached. In the background, never failing
      // the run; each figure, or why it is the default link, goes into the run's log.
      void this.coordinator.measureLinks(
        this.coordinator.nodes().map((n) => n.id),
        { log: (message) => this.emit('event', { type: 'log', message }) },
      );
    }
    if (e.type === 'checkpoint') {
      this.checkpointsSeen++;
      const checkpoint = { step: e.step, stages: e.stages };
      this.checkpoints.push(checkpoint);
      if (this.checkpoints.length > 2) this.checkpoints.shift();
      const copied = this.copies.copy(
        checkpoint,
        (k, step) => c.fetchCheckpointFile(k, step),
        (message) => this.emit('event', { type: 'log', message }),
      );
      this.emit('event', e);
      void this.replanAtCheckpoint(c, e.step, copied);
      return;
    }
    if (e.type === 'failed' && this.canResume(e.message)) {
      // A restart that failed too (a refused checkpoint) adds its reason to the first one's.
      if (this.resuming) this.resuming.notes.push(e.message);
      // fromStep is settled in onFailed; after a re-plan the stages may have no checkpoint of their own.
      else
        this.resuming = {
          reason: e.message,
          fromStep: this.checkpoints.at(-1)?.step ?? 0,
          notes: [],
        };
      return;
    }
    if (e.type === 'started' && this.resuming) {
      const { reason, notes, fromStep, lost, assumed } = this.resuming;
      const machines = new Set(e.stages.map((st) => st.node)).size;
      this.emit('event', {
        type: 'resumed',
        fromStep,
        reason: [
          reason,
          ...notes.map((n) => `then ${n}`),
          ...(lost
            ? [
                `re-planned without ${lost.join(', ')} onto ${machines} machine${machines === 1 ? '' : 's'}${assumed?.length ? ` (${assumed.join(', ')}: no measured speed yet, planned as fast as the others)` : ''}`,
              ]
            : []),
        ].join('; '),
        attempt: this.resumes,
        stages: e.stages,
        ...(this.resumes === 1 && this.takeover?.driver ? { driver: this.takeover.driver } : {}),
      });
      this.resuming = null;
      return;
    }
    this.emit('event', e);
  }

  private canResume(message: string): boolean {
    if (this.planned?.armed) return !this.stopping;
    return (
      this.spec.onFailure === 'resume' &&
      !this.stopping &&
      this.checkpointsSeen > 0 &&
      this.resumes - this.replans < MAX_RESUMES &&
      !/the checkpoint is of step/.test(message)
    );
  }

  /**
   * At a complete checkpoint: takes back machines this run lost that answer again, when a plan with
   * them predicts more throughput; and carries out a re-plan asked for (`replan`): the stages stop and
   * start on the new layout from this checkpoint's copy.
   */
  private async replanAtCheckpoint(c: RunController, step: number, copied: Promise<void>) {
    if (this.stopping || this.resuming || this.planned?.armed) return;
    this.planned ??= this.takeBack();
    if (!this.planned) return;
    await copied;
    if (c !== this.controller || this.copies.newest() !== step || this.stopping || this.resuming)
      return;
    this.planned.armed = true;
    await c.fail(`re-planning at the checkpoint of step ${step}`);
  }

  /** A re-plan that takes back lost machines that are online again, if it predicts a gain. */
  private takeBack(): PlannedMove | null {
    const back = [...this.lostIds].filter(
      (id) => this.coordinator.registry.get(id)?.state === 'online',
    );
    if (back.length === 0) return null;
    const using = new Set(workersOf(this.current.stages).map((w) => w.nodeId));
    const now = this.planOver((id) => using.has(id));
    const withBack = this.planOver((id) => using.has(id) || back.includes(id));
    const names = back.map((id) => this.coordinator.registry.get(id)?.name ?? id).join(', ');
    for (const id of back) this.lostIds.delete(id);
    if (typeof now === 'string' || typeof withBack === 'string') return null;
    const gain = withBack.samplesPerSecond / now.samplesPerSecond;
    if (gain < TAKE_BACK_GAIN || sameStages(withBack.stages, this.current.stages)) {
      this.emit('event', {
        type: 'log',
        message: `${names} ${back.length === 1 ? 'is' : 'are'} back; a plan with ${back.length === 1 ? 'it' : 'them'} predicts ${withBack.samplesPerSecond.toFixed(0)} samples/s against ${now.samplesPerSecond.toFixed(0)}: the run stays as it is`,
      });
      return null;
    }
    return {
      stages: withBack.stages,
      why: `${names} ${back.length === 1 ? 'is' : 'are'} back: re-planned onto ${machinesIn(withBack.stages)} machines (predicted ${now.samplesPerSecond.toFixed(0)} → ${withBack.samplesPerSecond.toFixed(0)} samples/s)`,
      armed: false,
    };
  }

  /**
   * Re-plans the run over every machine online now (`pipefitter run replan`, the Runs view) at its
   * next complete checkpoint; says what will happen, or why nothing will.
   */
  replanNow(): string {
    if (!this.current.checkpointEvery)
      throw new Error('this run keeps no checkpoints: it cannot move to another layout');
    if (this.stopping) throw new Error('the run is stopping');
    if (this.planned) return `a re-plan is already due: ${this.planned.why}`;
    const using = new Set(workersOf(this.current.stages).map((w) => w.nodeId));
    const now = this.planOver((id) => using.has(id));
    const all = this.planOver(() => true);
    if (typeof all === 'string') throw new Error(all);
    const machines = machinesIn(all.stages);
    if (sameStages(all.stages, this.current.stages))
      return `the run already trains on the layout the planner picks over the ${machines} machines online`;
    const move = `onto ${machines} machine${machines === 1 ? '' : 's'} (predicted ${typeof now === 'string' ? '?' : now.samplesPerSecond.toFixed(0)} → ${all.samplesPerSecond.toFixed(0)} samples/s)`;
    this.planned = { stages: all.stages, why: `re-planned on request ${move}`, armed: false };
    return `will re-plan ${move} at the next checkpoint`;
  }

  /** The current attempt failed: resume from a checkpoint, or end the run with its failure. */
  private async onFailed(c: RunController, err: Error): Promise<void> {
    if (c !== this.controller) return;
    if (!this.resuming) {
      // A failed run keeps its copies: `run resume` can go on from them later.
      if (this.stopping) void this.copies.settled().then(() => this.copies.clear());
      this.settle.reject(err);
      return;
    }
    await c.stoppedAfterFailure();
    // A stage that refused its checkpoint (torn, changed): that checkpoint is no use to anyone.
    if (REFUSED_CHECKPOINT.test(err.message)) this.checkpoints.pop();
    if (this.stopping) return this.giveUp('the run was stopped');
    const planned = this.planned?.armed ? this.planned : null;
    this.planned = null;
    const down = await this.machinesDown();
    const local = this.checkpoints.at(-1);
    let next: RunSpec;
    const state = planned && down.length === 0 ? this.newestCopy() : null;
    if (planned && state) {
      // A planned move: the copy of the checkpoint it waited for, re-sliced for the new layout.
      next = { ...this.current, stages: planned.stages, resume: undefined, resumeState: state };
      this.checkpoints.length = 0;
      this.resuming = { reason: planned.why, fromStep: state.step, notes: [] };
      this.replans++;
    } else if (down.length === 0 && local && hasReplicas(this.current.stages)) {
      // Only replica 0 of a stage keeps its checkpoint: every replica starts from the driver's copy.
      await this.copies.settled();
      const copy = this.newestCopy();
      if (!copy) return this.giveUp('no checkpoint was complete and copied before the loss');
      next = { ...this.current, resume: undefined, resumeState: copy };
      this.resuming.fromStep = copy.step;
    } else if (down.length === 0 && local) {
      // Every machine answers: the stages start again where they are, from their own files.
      next = { ...this.current, resume: local, resumeState: undefined };
      this.resuming.fromStep = local.step;
    } else {
      // A machine is gone, and its stage's files with it: the driver's copy, re-sliced for a new
      // plan over the machines that are left.
      await this.copies.settled();
      let state: RunState | null;
      try {
        state = this.copies.newestState(this.current.optimizer.name);
      } catch (e) {
        return this.giveUp(
          `the copy of the last checkpoint cannot be read: ${(e as Error).message}`,
        );
      }
      if (!state) return this.giveUp('no checkpoint was complete and copied before the loss');
      const lost = new Set(down.map((d) => d.id));
      for (const id of lost) this.lostIds.add(id);
      const stages = this.replan(lost);
      if (typeof stages === 'string') return this.giveUp(stages);
      next = { ...this.current, stages, resume: undefined, resumeState: state };
      // The stages' own files are of the old layout from now on.
      this.checkpoints.length = 0;
      this.resuming.fromStep = state.step;
      this.resuming.lost = down.map((d) => d.name);
    }
    this.resumes++;
    this.current = next;
    this.controller = this.attach(new RunController(this.coordinator, this.tf, next));
    // A failure to start comes back through onFailed (the controller fails and settles).
    await this.controller.start().catch(() => {});
  }

  /** Ends a run that could not be resumed: one `failed` event with every reason, then the rejection. */
  private giveUp(why: string): void {
    const r = this.resuming!;
    const message = [r.reason, ...r.notes, `not resumed: ${why}`].join('; ');
    this.resuming = null;
    // A run that cannot go on now (no machine left that fits) may later: its copies stay for
    // `run resume`, unless the person stopped it.
    if (this.stopping) void this.copies.settled().then(() => this.copies.clear());
    this.emit('event', { type: 'failed', message });
    this.settle.reject(new Error(message));
  }

  /** The same model, batch and schedule planned over the machines still online, `lost` left out. */
  private replan(lost: Set<string>): RunStagePlacement[] | string {
    const p = this.planOver((id) => !lost.has(id));
    if (typeof p === 'string') return p;
    if (this.resuming && p.assumed.length) this.resuming.assumed = p.assumed;
    return p.stages;
  }

  /**
   * The same model, batch and schedule planned over the online machines `use` keeps (machines not
   * yet benchmarked planned as fast as the others), with its predicted throughput; or why none fits.
   */
  private planOver(
    use: (nodeId: string) => boolean,
  ): { stages: RunStagePlacement[]; samplesPerSecond: number; assumed: string[] } | string {
    const nodes = this.coordinator.nodes().filter((n) => use(n.id));
    // Links measured before (a re-plan goes on now: it measures nothing new).
    const { cluster, skipped, assumed } = clusterFromNodes(nodes, {
      assumeUnmeasured: true,
      links: this.coordinator.measuredLinks(nodes),
    });
    if (cluster.machines.length === 0)
      return `no machine is left to plan on${skipped.length ? ` (${skipped.join('; ')})` : ''}`;
    const s = this.current;
    // A replicated run is re-planned with replication on the table, up to what it had.
    const replicas = Math.max(...s.stages.map(replicaCount));
    const request: PlanRequest = {
      model: s.model,
      source: 'catalogue',
      path: null,
      cluster,
      ...(replicas > 1 ? { maxReplicas: replicas } : {}),
      ...(s.sync?.kind === 'local' ? { syncEvery: s.sync.every } : {}),
      batch: s.batch,
      microbatches: s.microbatches,
      schedule: s.schedule,
      // An interleaved run keeps its chunks a stage where the machines left allow them.
      ...(s.schedule === 'interleaved-1f1b' ? { chunks: chunksOfRun(s.stages) } : {}),
      optimizer: s.optimizer.name,
      preset: 'balanced',
    };
    let outcome = planOrReason(request);
    // Fewer machines may leave no stage count that interleaving can use (one machine, or micro-
    // batches no stage count divides): the run goes on under 1F1B, the same training.
    if (!outcome.ok && s.schedule === 'interleaved-1f1b') {
      const { chunks: _, ...rest } = request;
      const flat = planOrReason({ ...rest, schedule: '1f1b' });
      if (flat.ok) outcome = flat;
    }
    if (!outcome.ok) return `no plan fits the machines left: ${outcome.reason}`;
    return {
      stages: planRunStages(outcome.plan),
      samplesPerSecond: outcome.plan.prediction.samplesPerSecond,
      assumed,
    };
  }

  /** The driver's copy of the newest complete checkpoint, as one state; null if none (or unreadable). */
  private newestCopy(): RunState | null {
    try {
      return this.copies.newestState(this.current.optimizer.name);
    } catch {
      return null;
    }
  }

  /** The run's machines whose agents do not answer a ping now. */
  private async machinesDown(): Promise<{ id: string; name: string }[]> {
    const ids = [...new Set(workersOf(this.current.stages).map((w) => w.nodeId))];
    const answers = await Promise.all(
      ids.map((id) =>
        this.coordinator
          .request(id, ControlType.Ping, { sentAt: Date.now() }, 1500)
          .then(() => null)
          .catch(() => ({ id, name: this.coordinator.registry.get(id)?.name ?? id })),
      ),
    );
    return answers.filter((a): a is { id: string; name: string } => a !== null);
  }

  /** The driver's copies of this run's checkpoints (they outlive a failed run, for `run resume`). */
  static copiesOf(coordinator: Coordinator, runId: string): CheckpointCopies {
    return new CheckpointCopies(path.join(coordinator.checkpointCopiesDir, runId));
  }

  /** Resolves once every stage is training; rejects (after a `failed` event) if the run cannot start. */
  start(): Promise<void> {
    return this.takeover ? this.startTakeover(this.takeover) : this.controller.start();
  }

  /**
   * Starts a run taken over from a lost driver: the stages its driver left behind are stopped, and
   * the run resumes from the checkpoint copy, on the same machines if every one answers, else
   * re-planned over those that do (never on the lost driver's machine).
   */
  private async startTakeover(t: RunTakeover): Promise<void> {
    const ids = new Set(workersOf(this.current.stages).map((w) => w.nodeId));
    // Whatever the old driver left running holds the run's id on its machines: stop it first.
    await Promise.all(
      this.coordinator
        .nodes()
        .filter((n) => n.state === 'online')
        .map((n) =>
          this.coordinator
            .request(n.id, ControlType.StageStop, { runId: this.spec.runId }, 5000)
            .catch(() => {}),
        ),
    );
    const down = await this.machinesDown();
    if (t.lost && ids.has(t.lost.nodeId) && !down.some((d) => d.id === t.lost!.nodeId))
      down.push({ id: t.lost.nodeId, name: t.lost.name });
    this.resuming = { reason: t.reason, fromStep: t.state.step, notes: [] };
    let stages = this.current.stages;
    if (down.length > 0) {
      const planned = this.replan(new Set(down.map((d) => d.id)));
      if (typeof planned === 'string') {
        this.controller = this.attach(new RunController(this.coordinator, this.tf, this.current));
        this.giveUp(planned);
        throw new Error(planned);
      }
      stages = planned;
      for (const d of down) this.lostIds.add(d.id);
      this.resuming.lost = [
        ...new Set(down.map((d) => this.coordinator.registry.get(d.id)?.name ?? d.name)),
      ];
    }
    this.resumes = 1;
    this.current = { ...this.current, stages, resume: undefined, resumeState: t.state };
    this.controller = this.attach(new RunController(this.coordinator, this.tf, this.current));
    return this.controller.start();
  }

  /**
   * Resolves once a run that failed has stopped its stage processes (at once otherwise): a run that
   * goes on later under the same id must not have its new stages stopped by the old run's shutdown.
   */
  stagesStopped(): Promise<void> {
    return this.controller?.stoppedAfterFailure() ?? Promise.resolve();
  }

  /** Where the stages train now (they move when the run is re-planned). */
  get stagesNow(): RunStagePlacement[] {
    return this.current.stages;
  }

  /** Stage `stage`'s file of this driver's copy of the checkpoint of `step`, or null if it has none. */
  checkpointCopy(stage: number, step: number): Promise<string | null> {
    return this.copies.file(stage, step);
  }

  /** Resolves when every stage has finished its steps; rejects with the run's failure otherwise. */
  finished(): Promise<void> {
    return this.outcome;
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

  /** Gathers every stage's current weights, in model order (the run must be live). */
  gatherWeights(): Promise<NamedWeight[]> {
    return this.controller.gatherWeights();
  }

  /** Stops the stages of a run that has finished (after `gatherWeights`). */
  shutdown(): Promise<void> {
    return this.controller.shutdown();
  }

  /** Stops the run: a `failed` event with `message`, then every stage is stopped. */
  stop(message: string): Promise<void> {
    this.stopping = true;
    return this.controller.fail(message);
  }
}
