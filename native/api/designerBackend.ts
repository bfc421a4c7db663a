import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { NodeRecord } from '../coordinator/nodeRecord.js';
import { modelCost } from '../model/cost.js';
import { getModel, listModels } from '../model/catalogue.js';
import { importModelJson } from '../model/importModelJson.js';
import { ModelError } from '../model/modelError.js';
import type { ModelSpec } from '../model/spec.js';
import type { Cluster, Link } from '../planner/cluster.js';
import { clusterFromNodes } from '../coordinator/nodesToCluster.js';
import { evaluateLayout, makePlan, PlanError, type PlanRequest } from '../planner/plan.js';
import { parsePlan, type Plan } from '../planner/planSchema.js';
import { planPlacements } from '../planner/planTopology.js';
import type { SimulationResult } from '../planner/simulator.js';
import { writeFileAtomic } from '../util/fsAtomic.js';
import type {
  DesignerModel,
  LayoutSettings,
  ModelRef,
  Prediction,
  SavedPlan,
} from './designerSchemas.js';
import type { ApiHandlers } from './server.js';
import { ApiError } from './validate.js';

type DesignerOps =
  | 'designerModels'
  | 'importModel'
  | 'predictLayout'
  | 'autoPartition'
  | 'savePlan'
  | 'listPlans'
  | 'openPlan';

function describeModel(ref: ModelRef, spec: ModelSpec, notes: string[] = []): DesignerModel {
  const cost = modelCost(spec);
  return {
    ref,
    id: spec.id,
    name: spec.name,
    description: spec.description,
    source: 'catalogue' in ref ? 'catalogue' : 'file',
    notes,
    layers: cost.layers.map((l) => ({
      name: l.name,
      className: l.className,
      outputShape: l.outputShape,
      params: l.params,
      flops: l.forwardFlops + l.backwardFlops,
      weightBytes: l.weightBytes,
      stashBytes: l.stashBytes,
    })),
  };
}

/**
 * The model.json files imported in this engine's life, by the hash of their spec: the latest few, up to
 * a total size (a spec can be megabytes); a ref to one that is gone asks for the file again.
 */
export class ImportedModels {
  private readonly specs = new Map<string, { spec: ModelSpec; bytes: number }>();
  private bytes = 0;
  constructor(
    private readonly maxModels = 8,
    private readonly maxBytes = 64 << 20,
  ) {}

  add(spec: ModelSpec): string {
    const json = JSON.stringify(spec);
    const id = crypto.createHash('sha256').update(json).digest('hex').slice(0, 32);
    this.remove(id);
    this.specs.set(id, { spec, bytes: json.length });
    this.bytes += json.length;
    // Oldest first; the one just added always stays.
    for (const old of this.specs.keys()) {
      if (old === id || (this.specs.size <= this.maxModels && this.bytes <= this.maxBytes)) break;
      this.remove(old);
    }
    return id;
  }

  get(id: string): ModelSpec | undefined {
    return this.specs.get(id)?.spec;
  }

  private remove(id: string): void {
    this.bytes -= this.specs.get(id)?.bytes ?? 0;
    this.specs.delete(id);
  }
}

function specOf(
  ref: ModelRef,
  imported: ImportedModels,
): {
  spec: ModelSpec;
  source: 'catalogue' | 'file';
  path: string | null;
} {
  if ('catalogue' in ref) {
    try {
      return { spec: getModel(ref.catalogue), source: 'catalogue', path: null };
    } catch (err) {
      throw new ApiError('bad-request', (err as Error).message);
    }
  }
  if ('imported' in ref) {
    const spec = imported.get(ref.imported);
    if (!spec)
      throw new ApiError(
        'bad-request',
        `the imported model ${ref.path ?? ref.imported} is no longer loaded (Pipefitter restarted, ` +
          'or many models were imported since): import its model.json again',
      );
    return { spec, source: 'file', path: ref.path };
  }
  return { spec: ref.spec, source: 'file', path: ref.path };
}

/** Why a machine the layout names cannot be planned on, in the registry's words. */
function clusterFor(
  nodes: () => NodeRecord[],
  links: () => ReadonlyMap<string, Link>,
  ids: string[],
): Cluster {
  const { cluster, skipped } = clusterFromNodes(nodes(), { links: links() });
  const known = new Set(cluster.machines.map((m) => m.id));
  for (const id of ids)
    if (!known.has(id)) {
      const node = nodes().find((n) => n.id === id);
      const why = node ? skipped.find((s) => s.startsWith(`${node.name}:`)) : undefined;
      throw new ApiError(
        'bad-request',
        why ? `cannot plan on ${why}` : `machine ${id} is not on the network`,
      );
    }
  return cluster;
}

function prediction(plan: Plan, sim: SimulationResult, req: PlanRequest): Prediction {
  const machines = new Map<string, Prediction['machines'][number]>();
  // Each replica of a stage holds the stage's memory on its machine.
  for (const { stage: k, placement: s } of planPlacements(plan)) {
    const p = plan.prediction.stages[k]!;
    const m = machines.get(s.machineId) ?? {
      id: s.machineId,
      name: s.machineName,
      usedBytes: 0,
      freeBytes: p.memoryFreeBytes,
      stages: [],
    };
    m.usedBytes += p.memoryBytes;
    if (!m.stages.includes(k)) m.stages.push(k);
    machines.set(s.machineId, m);
  }
  // Transfers are drawn by nobody (a wait on the receiving stage shows them), and are half the entries;
  // an all-reduce is kept: the stage itself waits for it before its optimizer step.
  const timeline = sim.timeline
    .filter((t) => t.kind !== 'transfer' || t.action.op === 'ALLREDUCE')
    .map((t) => ({
      stage: t.stage,
      kind: t.kind,
      label: t.label,
      start: t.start,
      end: t.end,
    }));
  const local = req.syncEvery === undefined ? {} : { syncEvery: req.syncEvery };
  return { plan, machines: [...machines.values()], timeline, ...local };
}

/** The CLI's flags in a planner refusal as the designer's fields name them. */
const FIELD_NOUNS: Record<string, string> = {
  microbatches: 'micro-batches',
  chunks: 'chunks',
  stages: 'stages',
};
export function inDesignerWords(message: string): string {
  return message
    .replace('drop --replicas/--max-replicas', 'remove the stages’ replicas')
    .replace(
      /--(microbatches|chunks|stages) (\d+)/g,
      (_, f: string, n: string) => `${n} ${FIELD_NOUNS[f]}`,
    )
    .replace(/--microbatches/g, 'a micro-batch count')
    .replace(/--(chunks|stages|schedule)/g, '$1');
}

function request(
  ref: ModelRef,
  imported: ImportedModels,
  settings: LayoutSettings,
  cluster: Cluster,
): PlanRequest {
  const { spec, source, path: file } = specOf(ref, imported);
  const { sync, ...rest } = settings;
  // Local SGD averages every H steps: the prediction carries 1/H of the all-reduce, as a run's does.
  const local = sync?.kind === 'local' ? { syncEvery: sync.every } : {};
  return { model: spec, source, path: file, cluster, ...rest, ...local };
}

const planFileName = (name: string) => `${name}.json`;

/** Imported model files kept at most; the least recently imported go first. */
const MAX_KEPT_MODELS = 32;

/**
 * Keeps an imported file as `<dir>/<content hash>/<its own name>`: the name still names the model (the
 * model's id comes from it), the hash keeps two different files of one name apart.
 */
function keepImportedFile(dir: string, text: string, fileName: string): string {
  const base =
    path
      .basename(fileName)
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .replace(/^\.+/, '') || 'model.json';
  const folder = path.join(
    dir,
    crypto.createHash('sha256').update(text).digest('hex').slice(0, 32),
  );
  const file = path.join(folder, base.endsWith('.json') ? base : `${base}.json`);
  fs.mkdirSync(folder, { recursive: true });
  if (!fs.existsSync(file)) writeFileAtomic(file, text);
  const now = new Date();
  fs.utimesSync(folder, now, now);
  const kept = fs
    .readdirSync(dir)
    .map((f) => ({ f, at: fs.statSync(path.join(dir, f)).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  for (const old of kept.slice(MAX_KEPT_MODELS))
    fs.rmSync(path.join(dir, old.f), { recursive: true, force: true });
  return file;
}

/**
 * The designer's side of the API: models with their per-layer cost, the prediction of a hand-made
 * layout, Auto-partition, and plan files kept in the state dir (the same format `pipefitter plan --json`
 * prints and `pipefitter train --plan` reads).
 */
export function designerHandlers(deps: {
  nodes: () => NodeRecord[];
  /** Links measured between agents (the coordinator's cache); none: every pair the default link. */
  links?: () => ReadonlyMap<string, Link>;
  /** Measures the links among these machines where none is cached (never rejects). */
  measureLinks?: (ids: string[]) => Promise<unknown>;
  plansDir: string;
  /** Where imported model.json files are kept, so a plan made from one can be run (and run again). */
  modelsDir?: string;
}): Pick<ApiHandlers, DesignerOps> {
  const { nodes, plansDir } = deps;
  const links = deps.links ?? (() => new Map<string, Link>());
  const modelsDir = deps.modelsDir ?? path.join(path.dirname(plansDir), 'models');
  const imported = new ImportedModels();
  return {
    async designerModels() {
      return { models: listModels().map((m) => describeModel({ catalogue: m.id }, m)) };
    },
    async importModel({ text, fileName }) {
      try {
        const { spec, notes } = importModelJson(text, fileName);
        // The browser gives a file's name, not its path: the engine keeps its own copy, which the plan
        // names, so a run (and "Run again" after a restart) reads the very model that was designed.
        const stored = keepImportedFile(modelsDir, text, fileName);
        return {
          model: describeModel({ imported: imported.add(spec), path: stored }, spec, notes),
        };
      } catch (err) {
        if (err instanceof ModelError) throw new ApiError('bad-request', err.message);
        throw err;
      }
    },
    async predictLayout({ model, settings, bounds, machineIds }) {
      const req = request(model, imported, settings, clusterFor(nodes, links, machineIds.flat()));
      try {
        const { plan, simulation } = evaluateLayout(req, bounds, machineIds);
        return prediction(plan, simulation, req);
      } catch (err) {
        if (err instanceof PlanError)
          throw new ApiError('bad-request', inDesignerWords(err.message));
        throw err;
      }
    },
    async autoPartition({ model, settings, machineIds }) {
      // The plan a run will start from: the links between its computers, measured where not cached.
      await deps.measureLinks?.(machineIds);
      const all = clusterFor(nodes, links, machineIds);
      const chosen = new Set(machineIds);
      const cluster = { ...all, machines: all.machines.filter((m) => chosen.has(m.id)) };
      if (cluster.machines.length === 0)
        throw new ApiError('bad-request', 'select at least one machine to partition over');
      try {
        const req = request(model, imported, settings, cluster);
        const outcome = makePlan(req);
        if (!outcome.ok) throw new ApiError('failed', outcome.reason);
        return prediction(outcome.plan, outcome.simulation, req);
      } catch (err) {
        if (err instanceof PlanError)
          throw new ApiError('bad-request', inDesignerWords(err.message));
        throw err;
      }
    },
    async savePlan({ name, plan }) {
      const checked = parsePlan(plan, name);
      fs.mkdirSync(plansDir, { recursive: true });
      const file = path.join(plansDir, planFileName(name));
      writeFileAtomic(file, JSON.stringify(checked, null, 2) + '\n');
      return { name, path: file };
    },
    async listPlans() {
      let names: string[] = [];
      try {
        names = fs.readdirSync(plansDir).filter((f) => f.endsWith('.json'));
      } catch {
        // no plans saved yet
      }
      const plans: SavedPlan[] = [];
      for (const f of names) {
        try {
          const file = path.join(plansDir, f);
          const plan = parsePlan(JSON.parse(fs.readFileSync(file, 'utf8')), f);
          plans.push({
            name: f.slice(0, -'.json'.length),
            savedAt: fs.statSync(file).mtimeMs,
            modelId: plan.model.id,
            stages: plan.stages.length,
            samplesPerSecond: plan.prediction.samplesPerSecond,
          });
        } catch {
          // a file that is not a plan (or of a version this Pipefitter does not read) is not listed
        }
      }
      plans.sort((a, b) => b.savedAt - a.savedAt);
      return { plans };
    },
    async openPlan(req) {
      let json: unknown;
      const source = 'name' in req ? planFileName(req.name) : req.fileName;
      try {
        json = JSON.parse(
          'name' in req
            ? fs.readFileSync(path.join(plansDir, planFileName(req.name)), 'utf8')
            : req.text,
        );
      } catch (err) {
        throw new ApiError('bad-request', `cannot read ${source}: ${(err as Error).message}`);
      }
      try {
        return { plan: parsePlan(json, source) };
      } catch (err) {
        throw new ApiError('bad-request', (err as Error).message);
      }
    },
  };
}
