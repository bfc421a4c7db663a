import fs from 'node:fs';
import path from 'node:path';
import type { RunEvent } from '../common/runEvents.js';
import { parseSync, type Sync } from '../common/schemas.js';
import { Coordinator } from '../coordinator/coordinator.js';
import {
  DEFAULT_CHECKPOINT_POLICY,
  DEFAULT_ON_FAILURE,
  DEFAULT_OPTIMIZER,
  DEFAULT_PRESET,
  DEFAULT_SCHEDULE,
  defaultLearningRate,
} from '../common/defaults.js';
import {
  BACKEND_PREFERENCES,
  DEFAULT_CHUNKS,
  MAX_CHUNKS,
  ON_FAILURE_POLICIES,
  OPTIMIZER_NAMES,
  SCHEDULE_KINDS,
} from '../common/names.js';
import { checkDatasetFits } from '../data/datasetFit.js';
import { resolveModel } from '../model/resolveModel.js';
import { clusterFromNodes } from '../coordinator/nodesToCluster.js';
import { makePlan, PlanError } from '../planner/plan.js';
import { parsePlan, type Plan } from '../planner/planSchema.js';
import { planPlacements, runnableStages, withMachines } from '../planner/planTopology.js';
import {
  coordinatorTf,
  newRunId,
  planProblems,
  planRunSpec,
  RunOrchestrator,
} from '../runs/runOrchestrator.js';
import { RunHostClient } from '../runs/runHostClient.js';
import type { RunSettings } from '../runs/runSchemas.js';
import { chooseDriver, followToEnd } from './hostedRun.js';
import { RunPrinter } from './runPrinter.js';
import { choiceOption, intOption, numberOption, UsageError, type Command } from './command.js';
import { chunksOption, resolveToken, stateDirFrom, trustOptions } from './common.js';
import { LocalAgents } from './localAgents.js';

const { cluster: _namespace, ...discoveryOptions } = trustOptions;

function readPlanFile(file: string) {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read plan ${file}: ${(err as Error).message}`);
  }
  const plan = parsePlan(json, file);
  try {
    runnableStages(plan);
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message}`);
  }
  return plan;
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'Train a model pipeline-parallel across agents, and write the trained model.',
  usage:
    'train --model <id|model.json> --dataset <mnist|text|synthetic|csv:FILE> [--local N | --plan plan.json | --discover S] [options]',
  options: {
    model: {
      type: 'string',
      valueName: 'id|file',
      description: 'a catalogue model (mnist-mlp, mnist-cnn, deep-mlp, char-gru) or a model.json',
    },
    dataset: {
      type: 'string',
      valueName: 'name',
      description:
        "mnist, text, synthetic[:dims:classes] or csv:FILE[:label] (default: the model's own)",
    },
    local: {
      type: 'string',
      valueName: 'N',
      description: 'start N agents on this machine for the run and stop them after',
    },
    plan: {
      type: 'string',
      valueName: 'file',
      description: 'a plan file (pipefitter plan --json, or saved by the designer)',
    },
    discover: {
      type: 'string',
      valueName: 'seconds',
      description: 'find agents on the LAN for this long and plan over them',
    },
    stages: {
      type: 'string',
      valueName: 'N',
      description:
        'number of stages (default: one per local agent, or per --replicas of them; the planner decides otherwise)',
    },
    sync: {
      type: 'string',
      valueName: 'every-step|local:H',
      description:
        'replicas sum their gradients every step (default: equals ordinary training), or train apart for H steps and then average (local SGD: H times less communication, for slow links)',
    },
    replicas: {
      type: 'string',
      valueName: 'R',
      description:
        'run every stage as R replicas (data parallelism: each takes a share of every step, their gradients summed by ring all-reduce; default 1)',
    },
    schedule: {
      type: 'string',
      valueName: SCHEDULE_KINDS.join('|'),
      description: `micro-batch schedule (default ${DEFAULT_SCHEDULE})`,
    },
    chunks: {
      type: 'string',
      valueName: 'V',
      description:
        `with interleaved-1f1b: chunks of non-adjacent layers each stage holds, 1–${MAX_CHUNKS} ` +
        `(default ${DEFAULT_CHUNKS}); needs --microbatches a multiple of the stages. A plan file says its own`,
    },
    batch: { type: 'string', valueName: 'B', description: 'mini-batch size (default 64)' },
    microbatches: {
      type: 'string',
      valueName: 'M',
      description: 'micro-batches per mini-batch (default 4)',
    },
    epochs: { type: 'string', valueName: 'E', description: 'epochs to train (default 1)' },
    steps: {
      type: 'string',
      valueName: 'S',
      description: 'train this many steps instead of whole epochs',
    },
    lr: {
      type: 'string',
      valueName: 'X',
      description: `learning rate (default ${defaultLearningRate('sgd')} for sgd, ${defaultLearningRate('adam')} for adam)`,
    },
    optimizer: {
      type: 'string',
      valueName: OPTIMIZER_NAMES.join('|'),
      description: `optimizer (default ${DEFAULT_OPTIMIZER})`,
    },
    'checkpoint-every': {
      type: 'string',
      valueName: 'N',
      description: `each stage saves its state every N steps, on its own machine (default: ${DEFAULT_CHECKPOINT_POLICY}; 0: never)`,
    },
    'checkpoint-seconds': {
      type: 'string',
      valueName: 'S',
      description:
        'save about every S seconds instead (in steps of the measured step time, set after the first checkpoint)',
    },
    'on-failure': {
      type: 'string',
      valueName: ON_FAILURE_POLICIES.join('|'),
      description: `a lost stage: restart the stages from the last checkpoint, or end the run (default ${DEFAULT_ON_FAILURE})`,
    },
    seed: { type: 'string', valueName: 'n', description: 'seed of the data order (default 1)' },
    backend: {
      type: 'string',
      valueName: 'name',
      description: `force a compute backend on every stage (${BACKEND_PREFERENCES.join(', ')}; auto: each machine's fastest measured; webgpu also accepts a software adapter)`,
    },
    out: {
      type: 'string',
      valueName: 'dir',
      description: 'where to write the trained model (default ./pipefitter-runs/<run id>)',
    },
    'cluster-name': {
      type: 'string',
      valueName: 'name',
      description: 'lab namespace for --discover (default "default")',
    },
    json: {
      type: 'boolean',
      description: 'print one JSON line per event instead of a progress bar',
    },
    driver: {
      type: 'string',
      valueName: 'machine',
      description:
        "the agent that drives the run (name or id; default the first stage's machine): the run goes on there if this command ends",
    },
    detach: {
      type: 'boolean',
      description:
        'return once the run has started; follow it with pipefitter run attach, stop it with pipefitter run stop',
    },
    ...discoveryOptions,
  },
  async run(values) {
    if (!values.model) throw new UsageError('--model is required (a catalogue id or a model.json)');
    const modeCount = [values.local, values.plan, values.discover].filter(
      (v) => v !== undefined,
    ).length;
    if (modeCount === 0)
      throw new UsageError('say where to train: --local N, --plan plan.json or --discover SECONDS');
    if (values.local !== undefined && values.discover !== undefined)
      throw new UsageError('--local and --discover exclude each other');
    const resolved = resolveModel(values.model as string);
    const model = resolved.spec;
    const dataset =
      (values.dataset as string | undefined) ?? (model.dataset === 'text' ? 'text' : model.dataset);
    // Refused here, before any agent or stage starts (the run checks again, for every caller).
    checkDatasetFits(model, dataset);
    const plan = values.plan ? readPlanFile(values.plan as string) : null;
    if (plan && plan.model.id !== model.id)
      throw new UsageError(`the plan is for model ${plan.model.id}, not ${model.id}`);
    const optimizerName = choiceOption(
      values.optimizer,
      'optimizer',
      OPTIMIZER_NAMES,
      plan?.optimizer ?? DEFAULT_OPTIMIZER,
    );
    const lr = numberOption(values.lr, 'lr', 1e-7, 10) ?? defaultLearningRate(optimizerName);
    const schedule = choiceOption(
      values.schedule,
      'schedule',
      SCHEDULE_KINDS,
      plan?.schedule ?? DEFAULT_SCHEDULE,
    );
    // With a plan file the plan's refusal comes first, as it says more.
    const chunks = chunksOption(values.chunks, plan ? null : schedule);
    if (chunks !== undefined && plan)
      throw new UsageError(
        '--chunks is for a run the planner lays out; a plan file says its chunks itself',
      );
    const batch = intOption(values.batch, 'batch', 1, 1 << 20) ?? plan?.batch ?? 64;
    const microbatches =
      intOption(values.microbatches, 'microbatches', 1, 4096) ?? plan?.microbatches ?? 4;
    if (microbatches > batch)
      throw new UsageError(`--microbatches ${microbatches} is more than the batch of ${batch}`);
    const epochs = intOption(values.epochs, 'epochs', 1, 100000);
    const steps = intOption(values.steps, 'steps', 1, 1e9);
    const local = intOption(values.local, 'local', 1, 64);
    const replicas = intOption(values.replicas, 'replicas', 1, 64);
    if (replicas !== undefined && plan)
      throw new UsageError(
        '--replicas is for a run the planner lays out; a plan file says its replicas itself',
      );
    const stagesWanted = intOption(values.stages, 'stages', 1, 1024);
    let sync: Sync | undefined;
    try {
      sync = values.sync === undefined ? undefined : parseSync(values.sync as string);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (replicas !== undefined && microbatches < replicas)
      throw new UsageError(
        `--replicas ${replicas} needs at least ${replicas} micro-batches a step (one per replica), got ${microbatches}`,
      );
    const discoverS = numberOption(values.discover, 'discover', 0.5, 3600);
    const json = values.json === true;
    const backend = choiceOption(values.backend, 'backend', BACKEND_PREFERENCES, 'auto');
    const checkpointEvery = intOption(values['checkpoint-every'], 'checkpoint-every', 0, 1e9);
    const checkpointSeconds = numberOption(
      values['checkpoint-seconds'],
      'checkpoint-seconds',
      0.1,
      1e7,
    );
    if (checkpointEvery !== undefined && checkpointSeconds !== undefined)
      throw new UsageError('say --checkpoint-every or --checkpoint-seconds, not both');
    const onFailure = choiceOption(
      values['on-failure'],
      'on-failure',
      ON_FAILURE_POLICIES,
      DEFAULT_ON_FAILURE,
    );
    const stateDir = stateDirFrom(values);
    const token = resolveToken(values, stateDir);
    const outFor = (runId: string) =>
      path.resolve((values.out as string | undefined) ?? path.join('pipefitter-runs', runId));
    const printer = new RunPrinter(json, batch, model.loss);
    const say = (line: string) => printer.say(line);

    const localAgents = local ? new LocalAgents() : null;
    const coordinator = new Coordinator({
      stateDir,
      token,
      cluster: values['cluster-name'] as string | undefined,
      beaconPort: intOption(values['beacon-port'], 'beacon-port', 1, 65535),
      discover: discoverS !== undefined || (plan !== null && !local),
    });
    let stopRun: (() => void) | null = null;
    const onSignal = () => stopRun?.();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      await coordinator.start();
      if (localAgents) {
        say(`starting ${local} local agents…`);
        const agents = await localAgents.start(local!, token);
        await Promise.all(
          agents.map((a) =>
            coordinator.addPeer(`127.0.0.1:${a.port}`, { persist: false, timeoutMs: 10_000 }),
          ),
        );
        // Wait for measured speeds: the planner balances stages by them.
        await Promise.all(
          agents.map((a) =>
            coordinator.waitFor(a.nodeId, (n) => !!(n.speed ?? n.inventory?.speed), 60_000),
          ),
        );
      } else if (discoverS !== undefined) {
        await new Promise((r) => setTimeout(r, discoverS * 1000));
      } else if (plan) {
        const ids = new Set(planPlacements(plan).map((p) => p.placement.machineId));
        await Promise.all(
          [...ids].map((id) => coordinator.waitFor(id, (n) => n.state === 'online', 10_000)),
        ).catch(() => {});
      }

      let runPlan: Plan;
      if (plan && !localAgents) {
        const [problem] = planProblems(plan, coordinator, 'cli');
        if (problem) throw new Error(problem);
        runPlan = plan;
      } else if (plan && localAgents) {
        // A saved plan names lab machines; with --local its split is kept and stages go to local agents in turn.
        runPlan = withMachines(plan, (i) => {
          const a = localAgents.agents[i % localAgents.agents.length]!;
          return { machineId: a.nodeId, machineName: a.name, gpu: null };
        });
        say(
          `--local: the plan's split and replicas are kept, its stages run on ${localAgents.agents.length} local agents`,
        );
      } else {
        // The links between the computers the plan may use, where not measured in the last hour.
        const links = await coordinator.measureLinks(
          coordinator.nodes().map((n) => n.id),
          { log: say },
        );
        const { cluster, skipped } = clusterFromNodes(coordinator.nodes(), { links });
        skipped.forEach((s) => say(`skipped ${s}`));
        if (cluster.machines.length === 0) throw new Error('no usable agent was found');
        const outcome = makePlan({
          model,
          source: resolved.source,
          path: resolved.path,
          cluster,
          stages:
            stagesWanted ??
            (local === undefined ? undefined : Math.max(1, Math.floor(local / (replicas ?? 1)))),
          ...(replicas === undefined ? {} : { replicas }),
          ...(sync?.kind === 'local' ? { syncEvery: sync.every } : {}),
          batch,
          microbatches,
          schedule,
          ...(chunks === undefined ? {} : { chunks }),
          optimizer: optimizerName,
          preset: DEFAULT_PRESET,
        });
        if (!outcome.ok) throw new PlanError(outcome.reason);
        const planned = runnableStages(outcome.plan);
        runPlan = outcome.plan;
        const layers = (s: (typeof planned)[number]) =>
          s.chunks.map((c) => `${c.start}–${c.end - 1}`).join(', ');
        say(
          `plan: ${planned.map((s, k) => `stage ${k} layers ${layers(s)} on ${s.replicas.map((p) => p.machineName).join(', ')}`).join('; ')}; predicted ${outcome.plan.prediction.samplesPerSecond.toFixed(0)} samples/s`,
        );
      }
      // The command's options win over a plan file's own (the planned plan has them already).
      runPlan = { ...runPlan, schedule, batch, microbatches, optimizer: optimizerName };
      const settings: RunSettings = {
        name: `${model.id} (pipefitter train)`,
        dataset,
        epochs: steps === undefined ? (epochs ?? 1) : undefined,
        steps,
        learningRate: lr,
        optimizer: optimizerName,
        seed: intOption(values.seed, 'seed', 0, 2 ** 31 - 1) ?? 1,
        backend,
        checkpointEvery,
        checkpointSeconds,
        onFailure,
        ...(sync ? { sync } : {}),
      };

      if (!localAgents) {
        // Lab agents: an agent drives the run, so it goes on if this command ends.
        const client = new RunHostClient(coordinator);
        const driver = chooseDriver(coordinator, runPlan, values.driver as string | undefined);
        const runId = await client.start(driver.id, { plan: runPlan, settings, model });
        if (json) printer.jsonLine({ type: 'run', runId, driver: driver.name });
        else say(`run ${runId}, driven by ${driver.name}`);
        if (values.detach) {
          say(
            `detached: the run goes on; follow it with "pipefitter run attach ${runId}", stop it with "pipefitter run stop ${runId}"`,
          );
          return 0;
        }
        let drivingNow = driver.id;
        stopRun = () =>
          void client
            .stop(drivingNow, runId)
            .catch((err: Error) => say(`could not stop the run: ${err.message}`));
        return await followToEnd(
          client,
          printer,
          { nodeId: driver.id, name: driver.name },
          runId,
          outFor(runId),
          (d) => (drivingNow = d.nodeId),
        );
      }

      // --local: the agents are this command's own and end with it, so it drives the run itself.
      const tf = await coordinatorTf();
      const runId = newRunId();
      const run = new RunOrchestrator(
        coordinator,
        tf,
        planRunSpec(runId, runPlan, model, settings),
      );
      stopRun = () => void run.stop('stopped by the user (Ctrl-C)');
      run.on('event', (e: RunEvent) => printer.event(e));
      await run.start();
      await run.finished();
      printer.end();
      printer.exported(await run.saveModel(outFor(runId)));
      return 0;
    } catch (err) {
      printer.end();
      const message = (err as Error).message;
      if (json && !printer.failurePrinted) printer.jsonLine({ type: 'failed', message });
      process.stderr.write(`pipefitter train: ${message}\n`);
      return 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await coordinator.stop();
      await localAgents?.stop();
    }
  },
};
