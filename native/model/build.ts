import type * as tfl from '@tensorflow/tfjs-layers';
import { isAllowedLayerClass, supportedClassesLine, type LayerClassName } from './allowlist.js';
import { inferShapes } from './shapes.js';
import { layerName, layerSeed, type LayerSpec, type ModelSpec } from './spec.js';

/**
 * What buildModel needs from TensorFlow.js. Taking it as a parameter (rather than importing tfjs here)
 * lets the caller pick the package and backend: `@tensorflow/tfjs` on wasm or cpu, tfjs-node on a GPU.
 */
export type TfLayersApi = Pick<typeof tfl, 'sequential' | 'layers' | 'initializers'>;

type Initializer = ReturnType<TfLayersApi['initializers']['zeros']>;
type AnyLayer = Parameters<ReturnType<TfLayersApi['sequential']>['add']>[0];
type Config = Record<string, unknown>;

// The factory for each allowlisted class: an explicit table, so a class name that is not here can
// never reach a tfjs constructor (no lookup by name into the tfjs namespace).
const FACTORIES: Record<LayerClassName, (L: TfLayersApi['layers'], c: Config) => AnyLayer> = {
  Dense: (L, c) => L.dense(c as never),
  Conv2D: (L, c) => L.conv2d(c as never),
  DepthwiseConv2D: (L, c) => L.depthwiseConv2d(c as never),
  MaxPooling2D: (L, c) => L.maxPooling2d(c as never),
  AveragePooling2D: (L, c) => L.averagePooling2d(c as never),
  GlobalAveragePooling2D: (L, c) => L.globalAveragePooling2d(c as never),
  GlobalMaxPooling2D: (L, c) => L.globalMaxPooling2d(c as never),
  Flatten: (L, c) => L.flatten(c as never),
  Reshape: (L, c) => L.reshape(c as never),
  Dropout: (L, c) => L.dropout(c as never),
  Activation: (L, c) => L.activation(c as never),
  BatchNormalization: (L, c) => L.batchNormalization(c as never),
  LayerNormalization: (L, c) => L.layerNormalization(c as never),
  Embedding: (L, c) => L.embedding(c as never),
  SimpleRNN: (L, c) => L.simpleRNN(c as never),
  LSTM: (L, c) => L.lstm(c as never),
  GRU: (L, c) => L.gru(c as never),
};

/**
 * The initializer arguments of each class, with the default we use when the config names none. Every
 * random initializer gets an explicit seed; tfjs's own defaults would be unseeded (and its default
 * recurrent initializer, orthogonal, runs a QR decomposition the wasm backend lacks).
 */
const INITIALIZER_KEYS: Partial<Record<LayerClassName, [key: string, fallback: string][]>> = {
  Dense: [
    ['kernelInitializer', 'glorotUniform'],
    ['biasInitializer', 'zeros'],
  ],
  Conv2D: [
    ['kernelInitializer', 'glorotUniform'],
    ['biasInitializer', 'zeros'],
  ],
  DepthwiseConv2D: [
    ['depthwiseInitializer', 'glorotUniform'],
    ['biasInitializer', 'zeros'],
  ],
  Embedding: [['embeddingsInitializer', 'randomUniform']],
  SimpleRNN: [
    ['kernelInitializer', 'glorotUniform'],
    ['recurrentInitializer', 'glorotUniform'],
    ['biasInitializer', 'zeros'],
  ],
  LSTM: [
    ['kernelInitializer', 'glorotUniform'],
    ['recurrentInitializer', 'glorotUniform'],
    ['biasInitializer', 'zeros'],
  ],
  GRU: [
    ['kernelInitializer', 'glorotUniform'],
    ['recurrentInitializer', 'glorotUniform'],
    ['biasInitializer', 'zeros'],
  ],
};

const num = (v: unknown, fallback: number): number => (typeof v === 'number' ? v : fallback);

/** Builds one initializer from a name ("heNormal", "glorot_uniform") or a {className, config} object. */
export function makeInitializer(
  I: TfLayersApi['initializers'],
  value: unknown,
  seed: number,
): Initializer {
  let name: string;
  let c: Config = {};
  if (typeof value === 'string') name = value;
  else if (value && typeof value === 'object' && typeof (value as Config).className === 'string') {
    name = (value as Config).className as string;
    const inner = (value as Config).config;
    if (inner && typeof inner === 'object') c = inner as Config;
  } else
    throw new Error(`an initializer must be a name or {className, config}, got ${String(value)}`);
  switch (name.replace(/_/g, '').toLowerCase()) {
    case 'zeros':
      return I.zeros();
    case 'ones':
      return I.ones();
    case 'constant':
      return I.constant({ value: num(c.value, 0) });
    case 'glorotuniform':
      return I.glorotUniform({ seed });
    case 'glorotnormal':
      return I.glorotNormal({ seed });
    case 'henormal':
      return I.heNormal({ seed });
    case 'heuniform':
      return I.heUniform({ seed });
    case 'lecunnormal':
      return I.leCunNormal({ seed });
    case 'lecununiform':
      return I.leCunUniform({ seed });
    case 'randomuniform':
      return I.randomUniform({ minval: num(c.minval, -0.05), maxval: num(c.maxval, 0.05), seed });
    case 'randomnormal':
      return I.randomNormal({ mean: num(c.mean, 0), stddev: num(c.stddev, 0.05), seed });
    case 'truncatednormal':
      return I.truncatedNormal({ mean: num(c.mean, 0), stddev: num(c.stddev, 0.05), seed });
    case 'variancescaling':
      return I.varianceScaling({
        scale: num(c.scale, 1),
        mode: (c.mode as 'fanIn' | 'fanOut' | 'fanAvg' | undefined) ?? 'fanIn',
        distribution:
          (c.distribution as 'normal' | 'uniform' | 'truncatedNormal' | undefined) ?? 'normal',
        seed,
      });
    case 'orthogonal':
      return I.orthogonal({ gain: num(c.gain, 1), seed });
    default:
      throw new Error(
        `unknown initializer "${name}" (supported: zeros, ones, constant, glorotUniform, glorotNormal, ` +
          'heNormal, heUniform, leCunNormal, leCunUniform, randomUniform, randomNormal, truncatedNormal, ' +
          'varianceScaling, orthogonal)',
      );
  }
}

export interface BuildOptions {
  /** First layer to build (default 0): a pipeline stage builds only its slice [start, end). */
  start?: number;
  /** One past the last layer to build (default: all layers). */
  end?: number;
}

/** The tfjs config for one layer: seeded initializers, and the input shape on the first built layer. */
export function layerArgs(
  I: TfLayersApi['initializers'],
  spec: ModelSpec,
  index: number,
  inputShape: number[] | null,
): Config {
  const layer: LayerSpec = spec.layers[index]!;
  const cls = layer.className as LayerClassName;
  // Shapes come from the spec, not the config: a slice's first layer needs its stage's input shape.
  const {
    inputShape: _a,
    batchInputShape: _b,
    batchSize: _c,
    inputDim,
    ...config
  } = layer.config as Config;
  const args: Config = { ...config, name: layerName(layer, index) };
  // Embedding's vocabulary size is also called inputDim; it is not a shape.
  if (cls === 'Embedding') args.inputDim = inputDim;
  if (inputShape) args.inputShape = inputShape;
  (INITIALIZER_KEYS[cls] ?? []).forEach(([key, fallback], role) => {
    args[key] = makeInitializer(I, config[key] ?? fallback, layerSeed(spec.seed, index, role));
  });
  return args;
}

/**
 * Instantiates a spec (or a slice of it) as a tf.Sequential, only from allowlisted classes, with
 * weights that depend only on spec.seed and the layer index: building layers 3..5 alone gives the
 * same initial weights as those layers in a whole-model build.
 */
export function buildModel(tf: TfLayersApi, spec: ModelSpec, opts: BuildOptions = {}) {
  const start = opts.start ?? 0;
  const end = opts.end ?? spec.layers.length;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > spec.layers.length)
    throw new Error(
      `layer range [${start}, ${end}) is outside the model's ${spec.layers.length} layers`,
    );
  if (start >= end) throw new Error(`layer range [${start}, ${end}) is empty`);
  for (let i = start; i < end; i++) {
    const l = spec.layers[i]!;
    if (!isAllowedLayerClass(l.className))
      throw new Error(
        `layer ${i} ("${layerName(l, i)}") has class ${l.className}, which Pipefitter does not ` +
          `instantiate; ${supportedClassesLine()}`,
      );
  }
  const shapes = inferShapes(spec);
  const model = tf.sequential({
    name: start === 0 && end === spec.layers.length ? spec.id : `${spec.id}_${start}_${end}`,
  });
  for (let i = start; i < end; i++) {
    const cls = spec.layers[i]!.className as LayerClassName;
    const inputShape = i === start ? (i === 0 ? spec.inputShape : shapes[i - 1]!) : null;
    model.add(FACTORIES[cls](tf.layers, layerArgs(tf.initializers, spec, i, inputShape)));
  }
  return model;
}
