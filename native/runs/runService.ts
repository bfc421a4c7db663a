import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { RunEvent } from '../common/runEvents.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { checkDatasetFits } from '../data/datasetFit.js';
import { resolveModel } from '../model/resolveModel.js';
import { parsePlan, type Plan, type PlanInput } from '../planner/planSchema.js';
import { planMachineNames } from '../planner/planTopology.js';
import type { ModelSpec } from '../model/spec.js';
import { metricsCsv } from './metricsCsv.js';
import {
  coordinatorTf,
  newRunId,
  planProblems,
  planRunSpec,
  RunOrchestrator,
  type RunTakeover,
} from './runOrchestrator.js';
import { workersOf, type RunSpec } from '../coordinator/runSpec.js';
import type { RunDriver, RunRecord, RunSettings, RunSummary } from './runSchemas.js';
import { DrivenRunCopy } from './drivenRunCopy.js';
import { drivenThere, RunHostClient } from './runHostClient.js';
import type { RunRecorder, RunStore } from './runStore.js';
import { isLive } from './summarize.js';

/** Full action timings are kept for every TIMING_EVERY-th step (and the last): a recent step's timeline. */
const TIMING_EVERY = 10;

export interface RunServiceEvents {
  record: [runId: string, record: RunRecord];
  summary: [RunSummary];
  removed: [id: string];
}

interface LiveRun {
  id: string;
  run: RunOrchestrator | null;
  recorder: RunRecorder;
  stopping: boolean;
  /** Set when an agent drives the run and this is our copy of its records. */
  copy?: DrivenRunCopy;
}

export interface RunServiceOptions {
  /**
   * The agent that should drive a run of this plan, so the run outlives this process; null (or no
   * function): this process drives it.
   */
  driverFor?: (plan: Plan) => { id: string; name: string } | null;
  log?: (line: string) => void;
}

/**
 * Starts runs from a plan and settings, records each as it happens (RunStore), and stops them. One run
 * at a time: the lab's machines are the pipeline, and two runs on them would only slow each other.
 */
export class RunService extends EventEmitter<RunServiceEvents> {
  private live: LiveRun | null = null;
  /** The run this process drove last: a run started or resumed next waits for its stages to stop. */
  private previous: RunOrchestrator | null = null;
  /** The agents that drive runs (when `driverFor` names one). */
  private readonly hosts: RunHostClient;

  constructor(
    private readonly coordinator: Coordinator,
    readonly store: RunStore,
    private readonly opts: RunServiceOptions = {},
  ) {
    super();
    this.hosts = new RunHostClient(coordinator);
  }

  private onRecordOf(id: string) {
    return (r: RunRecord, s: RunSummary) => {
      this.emit('record', id, r);
      this.emit('summary', s);
    };
  }

  /**
   * Goes on copying the newest run an agent drives that was live when this process last stopped
   * (the app was closed or killed): its records from where our copy ends, then live.
   */
  reattach(): void {
    if (this.live) return;
    const s = this.store.list().find((r) => isLive(r) && r.driver);
    if (s) this.follow(s.id, s.driver!, this.store.reopen(s.id, this.onRecordOf(s.id)));
  }

  private follow(id: string, driver: RunDriver, recorder: RunRecorder): LiveRun {
    const copy = new DrivenRunCopy(this.hosts, driver, recorder, this.opts.log, {
      followMoves: true,
    });
    const live: LiveRun = { id, run: null, recorder, stopping: false, copy };
    this.live = live;
    void copy.ended.then(() => {
      if (this.live === live) this.live = null;
    });
    return live;
  }

  get liveId(): string | null {
    return this.live?.id ?? null;
  }

  /**
   * Says, in words, why this plan cannot start now: a topology the runtime does not run yet, or a
   * machine that is not online; null when it can start.
   */
  preflight(plan: Plan): string | null {
    const problems = planProblems(plan, this.coordinator, 'app');
    return problems.length ? problems.join('; ') : null;
  }

  /**
   * Starts a run from a plan of any version this Pipefitter reads; resolves once every stage is
   * training, rejects (recording why) if it cannot.
   */
  async start(input: PlanInput, settings: RunSettings): Promise<RunSummary> {
    const { summary, started } = await this.launch(input, settings);
    await started;
    return this.store.get(summary.id) ?? summary;
  }

  /**
   * Checks and records a run, and starts it: resolves as soon as the run is recorded (its id known),
   * with `started`, which settles once every stage trains or the run could not start (recorded either
   * way). `model` is the model itself where the plan's path means nothing here (a driver on another
   * machine than the one that planned).
   */
  async launch(
    input: PlanInput,
    settings: RunSettings,
    opts: { model?: ModelSpec } = {},
  ): Promise<{ summary: RunSummary; started: Promise<void> }> {
    if (this.live)
      throw new Error(
        `run "${this.store.get(this.live.id)?.name}" is still running: stop it first`,
      );
    const plan = parsePlan(input, 'the plan');
    const problem = this.preflight(plan);
    if (problem) throw new Error(problem);
    const model = opts.model ?? resolveModel(plan.model.path ?? plan.model.id).spec;
    if (opts.model && model.id !== plan.model.id)
      throw new Error(`the plan is for model ${plan.model.id}, not ${model.id}`);
    if (model.layers.length !== plan.model.layers)
      throw new Error(
        `the plan splits ${plan.model.layers} layers, but model ${plan.model.id} has ${model.layers.length}`,
      );
    // The same dataset check the run makes, here before anything is recorded.
    checkDatasetFits(model, settings.dataset);
    const driver = this.opts.driverFor?.(plan) ?? null;
    if (driver) {
      const id = await this.hosts.start(driver.id, {
        plan,
        settings,
        model,
      });
      const live = this.follow(
        id,
        { nodeId: driver.id, name: driver.name },
        this.store.create(id, this.onRecordOf(id)),
      );
      await live.copy!.recorded;
      const summary = this.store.get(id);
      if (!summary)
        throw new Error(`${driver.name} started run ${id}, but its records cannot be read`);
      return { summary, started: live.copy!.started };
    }
    const tf = await coordinatorTf();
    if (this.live) throw new Error('another run started meanwhile: stop it first');
    const id = newRunId();
    const recorder = this.store.create(id, this.onRecordOf(id));
    recorder.append({ kind: 'meta', id, plan, settings, machines: planMachineNames(plan), model });
    const spec = planRunSpec(id, plan, model, settings);
    const started = this.drive(recorder, new RunOrchestrator(this.coordinator, tf, spec), spec);
    return { summary: this.store.get(id)!, started };
  }

  /**
   * Drives, from here, a run whose records this process has copied from another agent that drove it
   * until its machine was lost: from `state` (a checkpoint copy), recorded on in the same file.
   * Resolves once every stage trains again; rejects (recording why) if the run cannot go on.
   */
  async takeOver(id: string, t: RunTakeover, opts: { ended?: boolean } = {}): Promise<RunSummary> {
    if (this.live) throw new Error(`run ${this.live.id} is live here: it cannot take over ${id}`);
    const records = this.store.read(id);
    const meta = records[0];
    if (meta?.kind !== 'meta') throw new Error(`run ${id} has no meta record`);
    if (!opts.ended && records.some((r) => r.kind === 'end'))
      throw new Error(`run ${id} has ended`);
    const model = meta.model ?? resolveModel(meta.plan.model.path ?? meta.plan.model.id).spec;
    const spec = planRunSpec(id, meta.plan, model, meta.settings);
    const tf = await coordinatorTf();
    if (this.live) throw new Error('another run started meanwhile');
    const recorder = this.store.reopen(id, this.onRecordOf(id));
    const started = this.drive(
      recorder,
      new RunOrchestrator(this.coordinator, tf, spec, t),
      spec,
      this.store.get(id)?.totalSteps ?? Infinity,
    );
    await started;
    return this.store.get(id)!;
  }

  /**
   * Removes the checkpoint copies no run here can resume from any more (runs that completed, were
   * stopped, or are gone), so what failed runs keep is all that stays. Call once the store is open.
   */
  pruneCheckpointCopies(): void {
    const root = this.coordinator.checkpointCopiesDir;
    let ids: string[];
    try {
      ids = fs.readdirSync(root);
    } catch {
      return;
    }
    for (const id of ids) {
      const s = this.store.get(id);
      if (s && (isLive(s) || s.status === 'failed' || s.status === 'interrupted')) continue;
      fs.rmSync(path.join(root, id), { recursive: true, force: true });
    }
  }

  /**
   * Goes on with a run this process drove that failed (no machine left that fits, a loss with
   * `--on-failure stop`) or was interrupted (this process died): from the newest checkpoint copy it
   * kept, on the run's machines if they answer, else re-planned over those that do.
   */
  async resumeEnded(id: string): Promise<{ summary: RunSummary; fromStep: number }> {
    const s = this.store.get(id);
    if (!s) throw new Error(`no run ${id} here`);
    if (s.status !== 'failed' && s.status !== 'interrupted')
      throw new Error(
        isLive(s)
          ? `run ${id} is live: nothing to resume`
          : `run ${id} ${s.status}: only a failed or interrupted run can be resumed`,
      );
    const records = this.store.read(id);
    const meta = records[0];
    if (meta?.kind !== 'meta') throw new Error(`run ${id} has no meta record`);
    const copies = RunOrchestrator.copiesOf(this.coordinator, id);
    // The newest copies that are whole: a re-plan's first checkpoints name other stages than older ones.
    copies.adoptRecorded(records);
    const state = copies.newestState(meta.settings.optimizer);
    if (!state) throw new Error(`no copy of a checkpoint of run ${id} is kept here`);
    const summary = await this.takeOver(
      id,
      {
        state,
        reason: `resumed on request after it ${s.status} (${s.message ?? 'no reason recorded'})`,
      },
      { ended: true },
    );
    return { summary, fromStep: state.step };
  }

  /** The machines the run this process drives trains on now, in stage order (none: no such run). */
  liveMachineIds(): string[] {
    return this.live?.run?.stagesNow.map((s) => s.nodeId) ?? [];
  }

  /** Stage `stage`'s file of the live run's copy of the checkpoint of `step` (for its standby). */
  checkpointCopy(id: string, stage: number, step: number): Promise<string | null> {
    const run = this.live?.id === id ? this.live.run : null;
    return run ? run.checkpointCopy(stage, step) : Promise.resolve(null);
  }

  /** Records the run's events as it trains here; resolves once every stage trains. */
  private drive(
    recorder: RunRecorder,
    run: RunOrchestrator,
    spec: RunSpec,
    totalSteps = Infinity,
  ): Promise<void> {
    const live: LiveRun = { id: recorder.id, run, recorder, stopping: false };
    this.live = live;
    // The last run's failure may still be stopping its stages (the same run id, when this resumes it).
    const before = this.previous;
    this.previous = run;
    const ready = before
      ? Promise.race([before.stagesStopped(), new Promise((r) => setTimeout(r, 15_000))])
      : Promise.resolve();
    run.on('event', (e: RunEvent) => {
      // A stage's last words can arrive after the run ended here (its file is closed): not recorded.
      if (this.live !== live) return;
      if (e.type === 'started' || e.type === 'resumed') {
        if (e.type === 'started') totalSteps = e.totalSteps;
        const placed = workersOf(run.stagesNow.length ? run.stagesNow : spec.stages);
        const withIds = e.stages.map((s) => ({
          ...s,
          nodeId: placed.find((w) => w.stage === s.index && w.replica === (s.replica ?? 0))?.nodeId,
        }));
        recorder.append({ kind: 'event', event: { ...e, stages: withIds } });
        return;
      }
      if (e.type === 'step') {
        const keep = e.step % TIMING_EVERY === 0 || e.step === totalSteps - 1;
        const loss = Number.isFinite(e.loss) ? e.loss : null;
        recorder.append({ kind: 'event', event: { ...e, loss, timings: keep ? e.timings : [] } });
        return;
      }
      if (e.type === 'validation') {
        recorder.append({
          kind: 'event',
          event: { ...e, loss: Number.isFinite(e.loss) ? e.loss : null },
        });
        return;
      }
      recorder.append({ kind: 'event', event: e });
    });
    const started = ready
      .then(() => run.start())
      .then(
        () => void this.finish(live),
        (err: Error) => {
          // Stopped while its stages were still starting: that is how it ended, not a failure.
          this.end(live, live.stopping ? 'stopped' : 'failed', err.message);
          throw err;
        },
      );
    // A caller that only wanted the id must not see an unhandled rejection: the run file says it.
    started.catch(() => {});
    return started;
  }

  private async finish(live: LiveRun): Promise<void> {
    const run = live.run!;
    try {
      await run.finished();
    } catch (err) {
      this.end(live, live.stopping ? 'stopped' : 'failed', (err as Error).message);
      return;
    }
    try {
      const file = await run.saveModel(path.join(live.recorder.dir, 'model'));
      live.recorder.append({ kind: 'model', path: file });
      this.end(live, 'completed', null);
    } catch (err) {
      this.end(
        live,
        'failed',
        `training finished, but the model could not be saved: ${(err as Error).message}`,
      );
    }
  }

  private end(live: LiveRun, status: 'completed' | 'failed' | 'stopped', message: string | null) {
    if (this.live !== live) return;
    live.recorder.append({ kind: 'end', status, message });
    live.recorder.close();
    this.live = null;
  }

  /** Stops the live run: every stage is told to stop, then its agent stops what is left. */
  async stop(id: string, why = 'stopped by the user'): Promise<RunSummary> {
    const live = this.live;
    if (!live || live.id !== id) throw new Error(`run ${id} is not running`);
    live.stopping = true;
    if (live.copy) {
      // The driver stops it and records the end; our copy reads that end.
      await this.hosts.stop(live.copy.driver.nodeId, id);
      await Promise.race([live.copy.ended, new Promise((r) => setTimeout(r, 30_000))]);
      return this.store.get(id)!;
    }
    await live.run?.stop(why);
    // stop() has shut every stage down; finish() records the end when the promise rejects.
    await new Promise((r) => setImmediate(r));
    if (this.live === live) this.end(live, 'stopped', why);
    return this.store.get(id)!;
  }

  /**
   * Goes on with a run that failed or was interrupted, or whose driver is lost (the Runs view's
   * Resume): a run this process drove resumes here from its kept copy; a run an agent drove is
   * resumed by that agent (or, its driver lost, by the agent standing by for it) and followed there,
   * recorded on in the same copy. Resolves once the driver has it going again.
   */
  async resume(id: string): Promise<RunSummary> {
    const following = this.live?.id === id && this.live.copy !== undefined;
    if (this.live && !following)
      throw new Error(`run "${this.store.get(this.live.id)?.name}" is live: one run at a time`);
    const s = this.store.get(id);
    if (!s) throw new Error(`no run with id ${id}`);
    if (!s.driver) return (await this.resumeEnded(id)).summary;
    const { runs } = await this.hosts.listAll();
    const there = runs.find((h) => h.summary.id === id);
    if (!there)
      throw new Error(`no agent that answers holds run ${id} (its driver was ${s.driver.name})`);
    const liveThere = drivenThere(there) && isLive(there.summary);
    if (liveThere && following)
      throw new Error(`run ${id} is live on ${there.driver}: nothing to resume`);
    if (!liveThere) await this.hosts.resume(there.nodeId, id);
    // Our copy already follows the run: it finds the agent that took it over by itself.
    if (following) return this.store.get(id)!;
    const driver = { nodeId: there.nodeId, name: there.driver };
    const live = this.follow(id, driver, this.store.reopen(id, this.onRecordOf(id)));
    await live.copy!.started;
    return this.store.get(id)!;
  }

  /**
   * Moves the live run onto the layout the planner picks over the machines online now, at its next
   * checkpoint; resolves with what will happen (or why nothing will), in words.
   */
  async replan(id: string): Promise<string> {
    const live = this.live;
    if (!live || live.id !== id) throw new Error(`run ${id} is not running`);
    if (live.copy) return this.hosts.replan(live.copy.driver.nodeId, id);
    if (!live.run) throw new Error(`run ${id} is still starting`);
    return live.run.replanNow();
  }

  delete(id: string): void {
    this.store.delete(id);
    this.emit('removed', id);
  }

  restore(id: string): RunSummary {
    const s = this.store.restore(id);
    this.emit('summary', s);
    return s;
  }

  /** Copies the trained model (model.json + weights.bin) and writes metrics.csv into `dir`. */
  export(id: string, dir: string): { modelJson: string | null; metricsCsv: string } {
    const records = this.store.read(id);
    fs.mkdirSync(dir, { recursive: true });
    let modelJson: string | null = null;
    const model = records.find((r) => r.kind === 'model');
    if (model) {
      const from = path.dirname(model.path);
      for (const f of fs.readdirSync(from)) fs.copyFileSync(path.join(from, f), path.join(dir, f));
      modelJson = path.join(dir, 'model.json');
    }
    const csv = path.join(dir, 'metrics.csv');
    fs.writeFileSync(csv, metricsCsv(records));
    return { modelJson, metricsCsv: csv };
  }

  /** Stops the live run, if any, saying why (`why`: the app closes, the agent driving it stops). */
  async close(why = 'stopped by the user'): Promise<void> {
    const live = this.live;
    if (live?.copy) {
      // An agent drives it: it goes on without us, and the next start reattaches.
      live.copy.detach();
      this.live = null;
      await Promise.race([live.copy.ended, new Promise((r) => setTimeout(r, 5000))]);
    } else if (live) await this.stop(live.id, why).catch(() => {});
  }
}
