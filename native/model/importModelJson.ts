import fs from 'node:fs';
import path from 'node:path';
import { isAllowedLayerClass, supportedClassesLine } from './allowlist.js';
import { modelCost } from './cost.js';
import { ModelError } from './modelError.js';
import { checkLossFits, DEFAULT_LOSS, defaultLoss, lossFromKeras } from './losses.js';
import type { InputDtype, LayerSpec, ModelSpec } from './spec.js';

/**
 * Import of a TensorFlow.js / Keras `model.json` (tfjs-converter "layers-model" output, or a Keras
 * topology): the Sequential layer list becomes a ModelSpec. A functional model is accepted only when
 * it is a single chain; branches, merges, custom or unknown classes and malformed files are refused
 * with a ModelError that names the layer, its class and what is supported.
 */

type Json = Record<string, unknown>;

export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: string;
}

/** The weights a model.json points at: shard paths (relative to the file) and tensor entries. */
export interface WeightsInfo {
  paths: string[];
  entries: WeightEntry[];
  values: number;
}

export interface ImportedModel {
  spec: ModelSpec;
  weights: WeightsInfo | null;
  /** Things the importer changed or ignored (for example a dtype policy), in words. */
  notes: string[];
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

// Keys whose string values Keras spells in snake_case and tfjs in camelCase.
const ENUM_VALUE_KEYS = new Set(['dataFormat', 'mode', 'distribution', 'activation']);
const DROPPED_KEYS = new Set(['dtype', 'module', 'registeredName', 'buildConfig', 'batchShape']);

/** Keras's {class_name, config} nests (initializers, regularizers) become tfjs's {className, config}. */
function convertValue(key: string, v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => convertValue('', x));
  if (isObj(v)) {
    if (typeof v.class_name === 'string')
      return { className: v.class_name, config: convertConfig(isObj(v.config) ? v.config : {}) };
    return convertConfig(v);
  }
  if (typeof v === 'string' && ENUM_VALUE_KEYS.has(key)) return camel(v);
  return v;
}

function convertConfig(config: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(config)) {
    const key = camel(k);
    if (DROPPED_KEYS.has(key)) continue;
    out[key] = convertValue(key, v);
  }
  return out;
}

interface RawLayer {
  className: string;
  name: string;
  config: Json;
  inbound: string[][];
}

function layerLabel(l: { name: string; className: string }, i?: number): string {
  return `${i === undefined ? '' : `layer ${i} `}("${l.name}", ${l.className})`;
}

/** The names of the layers feeding each call of a functional layer (Keras 2 and Keras 3 forms). */
function inboundNames(nodes: unknown): string[][] {
  if (!Array.isArray(nodes)) return [];
  return nodes.map((node) => {
    const names: string[] = [];
    const visit = (v: unknown) => {
      if (Array.isArray(v)) {
        // Keras 2: ["dense_1", 0, 0, {}]
        if (typeof v[0] === 'string' && typeof v[1] === 'number') names.push(v[0]);
        else v.forEach(visit);
      } else if (isObj(v)) {
        // Keras 3: {class_name: "__keras_tensor__", config: {keras_history: ["dense_1", 0, 0]}}
        const hist = isObj(v.config) ? v.config.keras_history : undefined;
        if (Array.isArray(hist) && typeof hist[0] === 'string') names.push(hist[0]);
        else Object.values(v).forEach(visit);
      }
    };
    visit(node);
    return names;
  });
}

function readLayers(topology: Json, source: string): { layers: RawLayer[]; functional: boolean } {
  // Keras nests the model under model_config in some exports; tfjs writes it directly.
  const model = isObj(topology.model_config) ? topology.model_config : topology;
  const cls = model.class_name;
  if (typeof cls !== 'string')
    throw new ModelError(`${source}: modelTopology has no class_name (is this a Keras model?)`);
  const functional = cls === 'Model' || cls === 'Functional';
  if (cls !== 'Sequential' && !functional)
    throw new ModelError(
      `${source}: the model class is ${cls}; Pipefitter imports Sequential models (and functional ` +
        'models that are a single chain of layers)',
    );
  const cfg = model.config;
  const list = Array.isArray(cfg) ? cfg : isObj(cfg) ? cfg.layers : undefined;
  if (!Array.isArray(list) || list.length === 0)
    throw new ModelError(`${source}: the ${cls} model has no layer list`);
  const layers = list.map((l, i): RawLayer => {
    if (!isObj(l) || typeof l.class_name !== 'string')
      throw new ModelError(`${source}: layer ${i} has no class_name`);
    const config = isObj(l.config) ? l.config : {};
    const name =
      typeof config.name === 'string' ? config.name : typeof l.name === 'string' ? l.name : `#${i}`;
    return { className: l.class_name, name, config, inbound: inboundNames(l.inbound_nodes) };
  });
  return { layers, functional };
}

/** Orders a functional model's layers into its chain, or says where it branches or merges. */
function chainOf(layers: RawLayer[], source: string): RawLayer[] {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const consumers = new Map<string, string[]>();
  for (const l of layers) {
    if (l.inbound.length > 1)
      throw new ModelError(
        `${source}: ${layerLabel(l)} is called ${l.inbound.length} times (shared layer); ` +
          'Pipefitter imports single-chain models only',
      );
    const ins = l.inbound[0] ?? [];
    if (ins.length > 1)
      throw new ModelError(
        `${source}: ${layerLabel(l)} merges ${ins.length} inputs (${ins.join(', ')}); branches and ` +
          'merges are not supported: Pipefitter pipelines a single chain of layers (Sequential)',
      );
    for (const src of ins) consumers.set(src, [...(consumers.get(src) ?? []), l.name]);
  }
  for (const [src, outs] of consumers)
    if (outs.length > 1)
      throw new ModelError(
        `${source}: layer "${src}" feeds ${outs.length} layers (${outs.join(', ')}); branches are ` +
          'not supported: Pipefitter pipelines a single chain of layers (Sequential)',
      );
  const roots = layers.filter((l) => (l.inbound[0] ?? []).length === 0);
  if (roots.length !== 1)
    throw new ModelError(
      `${source}: the model has ${roots.length} inputs (${roots.map((r) => r.name).join(', ')}); ` +
        'Pipefitter imports single-input models only',
    );
  const chain: RawLayer[] = [];
  let cur: RawLayer | undefined = roots[0];
  while (cur) {
    chain.push(cur);
    const next: string | undefined = consumers.get(cur.name)?.[0];
    cur = next === undefined ? undefined : byName.get(next);
  }
  if (chain.length !== layers.length)
    throw new ModelError(`${source}: some layers are not connected to the model's input`);
  return chain;
}

function shapeFrom(v: unknown): number[] | null {
  if (!Array.isArray(v)) return null;
  const dims = v.slice(1);
  if (!dims.every((d) => typeof d === 'number' && Number.isInteger(d) && d > 0)) return null;
  return dims as number[];
}

/** Refusals for configs tfjs cannot train or Pipefitter cannot pipeline, with the fix in words. */
function checkLayerConfig(l: RawLayer, i: number, source: string): void {
  const where = `${source}: ${layerLabel(l, i)}`;
  const c = l.config;
  if (l.className === 'GRU' && c.reset_after === true)
    throw new ModelError(
      `${where} uses reset_after=True (Keras's default); TensorFlow.js supports only ` +
        'reset_after=False: rebuild the layer with GRU(..., reset_after=False)',
    );
  if (c.stateful === true)
    throw new ModelError(`${where} is stateful; pipeline stages run stateless layers only`);
}

/**
 * The loss the file records, wherever its writer put it: `training_config` in the topology (Keras 2
 * HDF5 and Keras 3 legacy HDF5 through tensorflowjs_converter), `trainingConfig` at the top level
 * (tfjs `model.save({includeOptimizer: true})`), `compile_config` next to the model's class (Keras 3
 * `model.to_json()` and a `.keras` archive's config.json, as they are or under `modelTopology` /
 * `model_config`), or Pipefitter's own metadata (the model files a run writes).
 */
function recordedLoss(doc: Json, topology: Json): unknown {
  const model = isObj(topology.model_config) ? topology.model_config : topology;
  const meta = isObj(doc.userDefinedMetadata) ? doc.userDefinedMetadata.pipefitter : undefined;
  const configs = [
    topology.training_config,
    doc.trainingConfig,
    topology.compile_config,
    model.compile_config,
    doc.compile_config,
    meta,
  ];
  for (const c of configs) if (isObj(c) && c.loss !== undefined && c.loss !== null) return c.loss;
  return undefined;
}

function readWeights(doc: Json, source: string): WeightsInfo | null {
  const manifest = doc.weightsManifest;
  if (manifest === undefined) return null;
  if (!Array.isArray(manifest))
    throw new ModelError(`${source}: weightsManifest must be a list of weight groups`);
  const paths: string[] = [];
  const entries: WeightEntry[] = [];
  manifest.forEach((g, gi) => {
    if (!isObj(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights))
      throw new ModelError(`${source}: weight group ${gi} needs "paths" and "weights" lists`);
    for (const p of g.paths) {
      if (typeof p !== 'string' || path.isAbsolute(p) || p.split(/[\\/]/).includes('..'))
        throw new ModelError(
          `${source}: weight path ${JSON.stringify(p)} must be a file name next to model.json`,
        );
      paths.push(p);
    }
    for (const w of g.weights) {
      if (!isObj(w) || typeof w.name !== 'string' || !Array.isArray(w.shape))
        throw new ModelError(`${source}: a weight in group ${gi} lacks a name or shape`);
      if (w.quantization !== undefined)
        throw new ModelError(
          `${source}: weight "${w.name}" is quantized; import float32 weights (convert without ` +
            '--quantize_*)',
        );
      const dtype = typeof w.dtype === 'string' ? w.dtype : 'float32';
      if (dtype !== 'float32')
        throw new ModelError(
          `${source}: weight "${w.name}" is ${dtype}; only float32 is supported`,
        );
      entries.push({ name: w.name, shape: w.shape as number[], dtype });
    }
  });
  const values = entries.reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0);
  return { paths, entries, values };
}

/** Parses a model.json text into a ModelSpec. `source` names the file in messages. */
export function importModelJson(text: string, source: string, id?: string): ImportedModel {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ModelError(`${source} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObj(doc)) throw new ModelError(`${source}: expected a JSON object at the top level`);
  if (doc.format === 'graph-model')
    throw new ModelError(
      `${source} is a tfjs graph model (a frozen TensorFlow graph); Pipefitter imports layers ` +
        'models (Keras topologies), which can be split into stages',
    );
  const topology = isObj(doc.modelTopology) ? doc.modelTopology : doc;
  if (!isObj(topology.model_config) && typeof topology.class_name !== 'string')
    throw new ModelError(
      `${source}: no modelTopology found; expected a tfjs layers-model model.json ` +
        '(tensorflowjs_converter output or model.save() from TensorFlow.js)',
    );
  const notes: string[] = [];
  const { layers: raw, functional } = readLayers(topology, source);
  const ordered = functional ? chainOf(raw, source) : raw;

  let inputShape: number[] | null = null;
  let inputDtype: InputDtype = 'float32';
  const kept: RawLayer[] = [];
  for (const l of ordered) {
    if (l.className === 'InputLayer') {
      inputShape = shapeFrom(l.config.batch_input_shape ?? l.config.batch_shape);
      if (l.config.dtype === 'int32') inputDtype = 'int32';
      continue;
    }
    kept.push(l);
  }
  kept.forEach((l, i) => {
    if (!isAllowedLayerClass(l.className))
      throw new ModelError(
        `${source}: ${layerLabel(l, i)} is ${
          l.className === 'Lambda' ? 'a Lambda layer (code)' : 'not a supported layer class'
        }; only declarative layers are instantiated, so custom or unknown classes cannot be ` +
          `imported. ${supportedClassesLine()}`,
      );
    checkLayerConfig(l, i, source);
  });
  if (kept.length === 0)
    throw new ModelError(`${source}: the model has no layers besides its input`);
  inputShape ??= shapeFrom(kept[0]!.config.batch_input_shape ?? kept[0]!.config.batch_shape);
  if (!inputShape)
    throw new ModelError(
      `${source}: the first layer ${layerLabel(kept[0]!, 0)} declares no fixed input shape ` +
        '(batch_input_shape with every dimension but the batch known)',
    );
  if (kept[0]!.className === 'Embedding') inputDtype = 'int32';

  const layers: LayerSpec[] = kept.map((l) => {
    const { batchInputShape: _b, inputShape: _i, ...config } = convertConfig(l.config);
    return { className: l.className, config: { ...config, name: l.name } };
  });
  const base = path.basename(source).replace(/\.json$/i, '');
  const spec: ModelSpec = {
    id: id ?? (base === 'model' ? path.basename(path.dirname(path.resolve(source))) : base),
    name: typeof topology.name === 'string' ? topology.name : base,
    description: `Imported from ${source}`,
    inputShape,
    inputDtype,
    layers,
    loss: DEFAULT_LOSS,
    numClasses: 1,
    seed: 0,
    dataset: 'synthetic',
  };
  // Shapes and costs double as validation: every layer must fit its input.
  const cost = modelCost(spec);
  const out = cost.layers.at(-1)!.outputShape;
  spec.numClasses = out.length === 1 ? out[0]! : out.reduce((a, b) => a * b, 1);
  const mnistShaped = ['784', '28x28x1'].includes(inputShape.join('x'));
  if (mnistShaped && spec.numClasses === 10) spec.dataset = 'mnist';
  const weights = readWeights(doc, source);
  if (weights && weights.values !== cost.params)
    throw new ModelError(
      `${source}: the weights manifest holds ${weights.values.toLocaleString('en-US')} values but ` +
        `the layers need ${cost.params.toLocaleString('en-US')}; the file and its topology disagree`,
    );
  const recorded = recordedLoss(doc, topology);
  if (recorded === undefined) {
    spec.loss = defaultLoss(spec);
    notes.push(`the file records no loss: training with ${spec.loss}`);
  } else spec.loss = lossFromKeras(recorded, source);
  checkLossFits(spec, recorded === undefined ? `${source} (no loss recorded)` : source);
  if (raw.some((l) => isObj(l.config.dtype)))
    notes.push('dtype policies were ignored: Pipefitter trains in float32');
  return { spec, weights, notes };
}

/** Reads and imports a model.json file; every failure is a ModelError, never a stack trace. */
export function loadModelFile(file: string, id?: string): ImportedModel {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelError(
      code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${code ?? String(err)})`,
    );
  }
  return importModelJson(text, file, id);
}
