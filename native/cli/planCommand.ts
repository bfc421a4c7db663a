import fs from 'node:fs';
import { Coordinator } from '../coordinator/coordinator.js';
import { DEFAULT_OPTIMIZER, DEFAULT_PRESET, DEFAULT_SCHEDULE } from '../common/defaults.js';
import { formatBytes, wordList } from '../common/format.js';
import {
  DEFAULT_CHUNKS,
  MAX_CHUNKS,
  OPTIMIZER_NAMES,
  PLAN_PRESETS,
  SCHEDULE_KINDS,
} from '../common/names.js';
import { ModelError } from '../model/modelError.js';
import { resolveModel } from '../model/resolveModel.js';
import { clusterFromJson, type Cluster } from '../planner/cluster.js';
import { clusterFromNodes } from '../coordinator/nodesToCluster.js';
import {
  makeFastestSchedulePlan,
  makePlan,
  PlanError,
  type ScheduleComparison,
} from '../planner/plan.js';
import { PLAN_VERSION, type Plan } from '../planner/planSchema.js';
import {
  choiceOption as choice,
  intOption,
  numberOption,
  UsageError,
  type Command,
} from './command.js';
import { chunksOption, resolveToken, stateDirFrom, trustOptions } from './common.js';
import { table } from '../util/format.js';

function readCluster(file: string): Cluster {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return clusterFromJson(json, file);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function discoverCluster(values: Record<string, unknown>, seconds: number): Promise<Cluster> {
  const stateDir = stateDirFrom(values);
  const coordinator = new Coordinator({
    stateDir,
    token: resolveToken(values, stateDir),
    cluster: values.cluster as string | undefined,
    beaconPort: intOption(values['beacon-port'], 'beacon-port', 1, 65535),
  });
  await coordinator.start();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const links = await coordinator.measureLinks(
    coordinator.nodes().map((n) => n.id),
    { log: (line) => process.stderr.write(`${line}\n`) },
  );
  const nodes = coordinator.nodes();
  await coordinator.stop();
  const { cluster, skipped } = clusterFromNodes(nodes, { links });
  for (const s of skipped) process.stderr.write(`skipped ${s}\n`);
  if (cluster.machines.length === 0)
    throw new UsageError(
      `no agent with a measured speed answered within ${seconds} s in cluster "${coordinator.cluster}"` +
        (nodes.length ? ` (${nodes.length} found, none usable)` : ''),
    );
  return cluster;
}

const { cluster: _namespace, ...discoveryOptions } = trustOptions;

const ms = (s: number) =>
  s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)} ms`;

/** "interleaved-1f1b (2 chunks)", or the schedule's name where it has one chunk a stage. */
const scheduleName = (c: Pick<ScheduleComparison, 'schedule' | 'chunks'>) =>
  c.chunks === undefined ? c.schedule : `${c.schedule} (${c.chunks} chunks)`;

/** "schedule zb-h1: predicted 612 samples/s (fastest; 1f1b 580, gpipe 560)", for stderr. */
export function scheduleNote(chosen: string, compared: ScheduleComparison[]): string {
  const mine = compared.find((c) => c.schedule === chosen)!;
  const others = compared
    .filter((c) => c !== mine)
    .map((c) =>
      c.skipped
        ? `${scheduleName(c)} not planned: ${c.reason}`
        : c.samplesPerSecond === null
          ? `${scheduleName(c)} does not fit`
          : `${scheduleName(c)} ${c.samplesPerSecond.toFixed(0)}`,
    );
  return (
    `schedule ${scheduleName(mine)}: predicted ${mine.samplesPerSecond!.toFixed(0)} samples/s, ` +
    `the fastest (${others.join('; ')}); --schedule picks one`
  );
}

function printPlan(plan: Plan): void {
  const pr = plan.prediction;
  // The all-reduce column only where a stage has replicas: other plans print as they always did.
  const replicated = plan.stages.some((s) => s.replicas.length > 1);
  const rows = plan.stages.map((s, k) => {
    const p = pr.stages[k]!;
    // Every chunk and every replica of the stage.
    const row = [
      String(k + 1),
      s.chunks.map((c) => `${c.layers[0]}–${c.layers[1] - 1}`).join(', '),
      s.chunks.map(({ layerNames: n }) => (n[0] === n[1] ? n[0] : `${n[0]} … ${n[1]}`)).join(', '),
      s.replicas
        .map((r) => (r.gpu === null ? r.machineName : `${r.machineName} GPU ${r.gpu}`))
        .join(', '),
      ms(p.forwardSeconds),
      ms(p.backwardSeconds),
      ms(Math.max(p.sendActivationSeconds, p.sendGradientSeconds)),
      `${formatBytes(p.memoryBytes)} / ${formatBytes(p.memoryFreeBytes)}`,
      String(p.inFlightMicrobatches),
    ];
    return replicated ? [...row, s.replicas.length > 1 ? ms(p.allReduceSeconds ?? 0) : '–'] : row;
  });
  const v = plan.stages[0]!.chunks.length;
  const out = [
    `Model ${plan.model.id} (${plan.model.layers} layers, ${plan.model.params.toLocaleString('en-US')} parameters), ` +
      `batch ${plan.batch} in ${plan.microbatches} micro-batches, ${plan.schedule}` +
      (v > 1 ? ` (${v} chunks a stage)` : '') +
      `, ${plan.optimizer}, preset ${plan.preset}`,
    '',
    table(
      [
        'STAGE',
        'LAYERS',
        'NAMES',
        replicated ? 'MACHINES (REPLICAS)' : 'MACHINE',
        'FWD/MB',
        'BWD/MB',
        'SEND/MB',
        'MEMORY (PEAK / FREE)',
        // An interleaved stage holds (micro-batch, chunk) pairs, each a chunk's activations.
        v > 1 ? 'STASH (MB×CHUNK)' : 'STASH',
        ...(replicated ? ['ALLREDUCE'] : []),
      ],
      rows,
    ),
    '',
    `Step ${ms(pr.stepSeconds)}, throughput ${pr.samplesPerSecond.toFixed(1)} samples/s, ` +
      `bubble ${(pr.bubble * 100).toFixed(1)}%, bottleneck ${ms(pr.bottleneckSeconds)} per micro-batch`,
    `Search: ${plan.search.note}; ${plan.search.evaluations} orders evaluated` +
      (plan.search.stagesChosen === 'auto'
        ? `; ${plan.stages.length} stages chosen as fastest`
        : ''),
  ];
  process.stdout.write(out.join('\n') + '\n');
}

export const planCommand: Command = {
  name: 'plan',
  summary: "Split a model into pipeline stages over the lab's machines and predict its speed.",
  usage:
    'plan --model <id|model.json> [--cluster cluster.json | --discover SECONDS] [--stages N] [--batch B] ' +
    `[--microbatches M] [--schedule ${SCHEDULE_KINDS.join('|')}] [--chunks V] [--preset ${PLAN_PRESETS.join('|')}] ` +
    `[--optimizer ${OPTIMIZER_NAMES.join('|')}] [--replicas R | --max-replicas R] [--json] [--out plan.json]`,
  options: {
    model: {
      type: 'string',
      valueName: 'id|file',
      description: 'a catalogue model id or a model.json file',
    },
    cluster: {
      type: 'string',
      valueName: 'file',
      description: 'cluster.json: machines (id, name, gflops, memoryBytes) and links (see README)',
    },
    discover: {
      type: 'string',
      valueName: 'seconds',
      description:
        "find the lab's agents for this long and plan on their measured speed and memory",
    },
    stages: {
      type: 'string',
      valueName: 'n',
      description: 'number of stages (default: the fastest count)',
    },
    batch: {
      type: 'string',
      valueName: 'b',
      description: 'samples per training step (default 64)',
    },
    microbatches: {
      type: 'string',
      valueName: 'm',
      description: 'micro-batches per step (default 8)',
    },
    schedule: {
      type: 'string',
      valueName: 'kind',
      description: `${wordList(SCHEDULE_KINDS)} (default: the fastest predicted)`,
    },
    chunks: {
      type: 'string',
      valueName: 'v',
      description:
        `with interleaved-1f1b: chunks (virtual stages) of non-adjacent layers each stage holds, ` +
        `1–${MAX_CHUNKS} (default ${DEFAULT_CHUNKS}); the bubble shrinks by v for v× the messages. ` +
        'Needs --microbatches a multiple of the stages',
    },
    preset: {
      type: 'string',
      valueName: 'name',
      description: 'balanced (cost model, default), uniform (equal layer counts), parameters',
    },
    optimizer: {
      type: 'string',
      valueName: 'name',
      description: `${wordList(OPTIMIZER_NAMES)} (default ${DEFAULT_OPTIMIZER})`,
    },
    replicas: {
      type: 'string',
      valueName: 'r',
      description:
        'run every stage as r replicas (data parallelism: each takes a share of the micro-batches; default 1)',
    },
    'max-replicas': {
      type: 'string',
      valueName: 'r',
      description: 'try 1 to r replicas of every stage and keep the fastest predicted plan',
    },
    json: {
      type: 'boolean',
      description: `print the plan as JSON (the plan file format, version ${PLAN_VERSION})`,
    },
    out: {
      type: 'string',
      valueName: 'file',
      description: 'also write the plan JSON to this file',
    },
    ...discoveryOptions,
    // --cluster names the lab namespace in the other commands; here it is the cluster file.
    'cluster-name': {
      type: 'string',
      valueName: 'name',
      description: 'with --discover: the lab namespace (default "default")',
    },
  },
  async run(values) {
    if (typeof values.model !== 'string')
      throw new UsageError('--model is required (a catalogue id or a model.json)');
    const batch = intOption(values.batch, 'batch', 1, 1_000_000) ?? 64;
    const microbatches = intOption(values.microbatches, 'microbatches', 1, 100_000) ?? 8;
    const stages = intOption(values.stages, 'stages', 1, 1024);
    const replicas = intOption(values.replicas, 'replicas', 1, 1024);
    const maxReplicas = intOption(values['max-replicas'], 'max-replicas', 1, 1024);
    if (replicas !== undefined && maxReplicas !== undefined)
      throw new UsageError(
        'give --replicas (every stage that many) or --max-replicas (the planner tries 1 to that many), not both',
      );
    // No --schedule: every schedule is planned and the fastest predicted one is kept.
    const schedule =
      values.schedule === undefined
        ? null
        : choice(values.schedule, 'schedule', SCHEDULE_KINDS, DEFAULT_SCHEDULE);
    const chunks = chunksOption(values.chunks, schedule);
    const preset = choice(values.preset, 'preset', PLAN_PRESETS, DEFAULT_PRESET);
    const optimizer = choice(values.optimizer, 'optimizer', OPTIMIZER_NAMES, DEFAULT_OPTIMIZER);
    const discover = numberOption(values.discover, 'discover', 0, 3600);
    if ((values.cluster === undefined) === (discover === undefined))
      throw new UsageError(
        'give the machines with exactly one of --cluster cluster.json or --discover SECONDS',
      );

    let resolved;
    try {
      resolved = resolveModel(values.model);
    } catch (err) {
      if (err instanceof ModelError) throw new UsageError(err.message);
      throw err;
    }
    for (const note of resolved.notes) process.stderr.write(`note: ${note}\n`);
    const cluster =
      discover !== undefined
        ? await discoverCluster({ ...values, cluster: values['cluster-name'] }, discover)
        : readCluster(values.cluster as string);

    let outcome;
    try {
      const req = {
        model: resolved.spec,
        source: resolved.source,
        path: resolved.path,
        cluster,
        stages,
        replicas,
        maxReplicas,
        chunks,
        batch,
        microbatches,
        optimizer,
        preset,
      };
      if (schedule) outcome = makePlan({ ...req, schedule });
      else {
        const fastest = makeFastestSchedulePlan(req);
        outcome = fastest.outcome;
        if (outcome.ok)
          process.stderr.write(`note: ${scheduleNote(outcome.plan.schedule, fastest.compared)}\n`);
      }
    } catch (err) {
      if (err instanceof PlanError || err instanceof ModelError) {
        process.stderr.write(`pipefitter plan: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
    if (!outcome.ok) {
      process.stderr.write(`pipefitter plan: ${outcome.reason}\n`);
      return 1;
    }
    const json = JSON.stringify(outcome.plan, null, 2) + '\n';
    if (typeof values.out === 'string') fs.writeFileSync(values.out, json);
    if (values.json) process.stdout.write(json);
    else printPlan(outcome.plan);
    return 0;
  },
};
