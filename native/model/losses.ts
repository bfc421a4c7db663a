import { ModelError } from './modelError.js';
import { inferShapes } from './shapes.js';
import { LOSS_NAMES, type LossName, type ModelSpec } from './spec.js';

/**
 * What each loss of LOSS_NAMES needs of a model, and how a Keras or tfjs file names it. Labels are
 * always class indices (the datasets store classes): binaryCrossentropy takes 0/1 labels against one
 * sigmoid unit; the categorical losses take class k against a softmax over the output units (the two
 * differ only in how Keras wants its targets fed, not in the arithmetic); meanSquaredError regresses
 * the output on the label itself (one unit) or on its one-hot row (several units).
 */

/**
 * A file that records no loss trains with this one: Pipefitter's default before losses were read, so
 * such files train as they did. Only a 1-unit sigmoid output, which no categorical loss can train,
 * gets binaryCrossentropy instead (see `defaultLoss`).
 */
export const DEFAULT_LOSS: LossName = 'categoricalCrossentropy';

/** Words for messages: "binary cross-entropy". */
export const LOSS_WORDS: Record<LossName, string> = {
  binaryCrossentropy: 'binary cross-entropy',
  categoricalCrossentropy: 'categorical cross-entropy',
  sparseCategoricalCrossentropy: 'sparse categorical cross-entropy',
  meanSquaredError: 'mean squared error',
};

/** Keras's and tfjs's spellings, keyed by the name lower-cased without underscores. */
const ALIASES: Record<string, LossName> = {
  binarycrossentropy: 'binaryCrossentropy',
  bce: 'binaryCrossentropy',
  categoricalcrossentropy: 'categoricalCrossentropy',
  sparsecategoricalcrossentropy: 'sparseCategoricalCrossentropy',
  meansquarederror: 'meanSquaredError',
  mse: 'meanSquaredError',
};

/** binary_crossentropy, BinaryCrossentropy, binaryCrossentropy, bce … → binaryCrossentropy; else null. */
export function normaliseLossName(name: string): LossName | null {
  return ALIASES[name.replace(/_/g, '').toLowerCase()] ?? null;
}

const supportedLine = () => `supported losses: ${LOSS_NAMES.join(', ')}`;

/** Whether validation reports an accuracy: a regression loss has none that means anything. */
export function lossHasAccuracy(loss: LossName): boolean {
  return loss !== 'meanSquaredError';
}

/** How many classes a model's labels take: a 1-unit output predicts 0 or 1; else one per unit. */
export function labelClasses(model: Pick<ModelSpec, 'numClasses'>): number {
  return model.numClasses === 1 ? 2 : model.numClasses;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * One loss from its Keras / tfjs form: a name ('binary_crossentropy', 'binaryCrossentropy'), a Keras 3
 * serialized class ({class_name: 'BinaryCrossentropy', config: {from_logits, …}, module}) or function
 * ({class_name: 'function', config: 'binary_crossentropy'}), a per-output dict or list holding one.
 * Options that change the arithmetic (logits, label smoothing, another reduction) are refused by name.
 */
export function lossFromKeras(value: unknown, source: string, perOutput = false): LossName {
  if (Array.isArray(value) || (isObj(value) && typeof value.class_name !== 'string')) {
    // Per output: {"dense_2": "binary_crossentropy"} or ["binary_crossentropy"], one level deep.
    const entries = Array.isArray(value) ? value : Object.values(value);
    if (perOutput || entries.length !== 1)
      throw new ModelError(
        `${source}: the file records ${perOutput ? 'nested' : entries.length} losses (one per ` +
          'output); Pipefitter trains single-output models with one loss',
      );
    return lossFromKeras(entries[0], source, true);
  }
  if (typeof value === 'string') {
    const loss = normaliseLossName(value);
    if (!loss)
      throw new ModelError(
        `${source}: the model's loss "${value.slice(0, 80)}" is not supported; ${supportedLine()}`,
      );
    return loss;
  }
  if (!isObj(value))
    throw new ModelError(
      `${source}: the model's loss is ${String(JSON.stringify(value)).slice(0, 80)}, not a loss name`,
    );
  const cls = value.class_name as string;
  const config = isObj(value.config) ? value.config : {};
  const registered = typeof value.registered_name === 'string' ? value.registered_name : null;
  const module = typeof value.module === 'string' ? value.module : null;
  // A class or function from outside Keras (registered "Package>Name", or another module) is code we
  // do not have, whatever it is called.
  const custom =
    (registered !== null && registered.includes('>') && !registered.startsWith('keras>')) ||
    (module !== null && module !== 'keras' && !module.startsWith('keras.'));
  const fn = cls === 'function' && typeof value.config === 'string' ? value.config : null;
  const loss = normaliseLossName(fn ?? cls);
  if (!loss || custom)
    throw new ModelError(
      `${source}: the model's loss ${(registered ?? fn ?? cls).slice(0, 80)} is not supported` +
        `${custom ? ' (a custom loss: its code is not in the file)' : ''}; ${supportedLine()}`,
    );
  if (fn) return loss;
  const refuse = (option: string, fix: string) =>
    new ModelError(`${source}: the model's loss ${cls}(${option}) is not supported: ${fix}`);
  if (config.from_logits === true)
    throw refuse(
      'from_logits=True',
      `Pipefitter's losses take probabilities; end the model with a ${
        loss === 'binaryCrossentropy' ? 'sigmoid' : 'softmax'
      } activation and compile with from_logits=False`,
    );
  const smoothing = config.label_smoothing;
  if (typeof smoothing === 'number' && smoothing !== 0)
    throw refuse(`label_smoothing=${smoothing}`, 'only label_smoothing=0 is supported');
  const reduction = config.reduction;
  if (
    reduction !== undefined &&
    reduction !== null &&
    reduction !== 'auto' &&
    reduction !== 'sum_over_batch_size'
  )
    throw refuse(
      `reduction=${JSON.stringify(reduction)}`,
      'Pipefitter trains on the mean loss over the batch (reduction "sum_over_batch_size")',
    );
  if (config.ignore_class !== undefined && config.ignore_class !== null)
    throw refuse(`ignore_class=${String(config.ignore_class)}`, 'every class must count');
  if (config.axis !== undefined && config.axis !== -1)
    throw refuse(`axis=${String(config.axis)}`, 'the loss runs over the last axis only');
  return loss;
}

/** The output activation: the last layer's, looking past trailing Dropout (identity when predicting). */
function outputActivation(spec: Pick<ModelSpec, 'layers'>): { activation: string; layer: string } {
  for (let i = spec.layers.length - 1; i >= 0; i--) {
    const l = spec.layers[i]!;
    if (l.className === 'Dropout') continue;
    const a = l.config.activation;
    const name = typeof l.config.name === 'string' ? l.config.name : `layer ${i}`;
    return {
      activation: typeof a === 'string' ? a : 'linear',
      layer: `"${name}" (${l.className})`,
    };
  }
  return { activation: 'linear', layer: 'the model' };
}

/** The loss a file without one trains with (see DEFAULT_LOSS). */
export function defaultLoss(spec: Pick<ModelSpec, 'inputShape' | 'layers'>): LossName {
  const out = inferShapes(spec).at(-1)!;
  return out.length === 1 && out[0] === 1 && outputActivation(spec).activation === 'sigmoid'
    ? 'binaryCrossentropy'
    : DEFAULT_LOSS;
}

/**
 * Refuses, in words, a model whose output its loss cannot train: at import, at plan time and before a
 * run starts, so a mismatch never surfaces as a tensor error inside a stage minutes later.
 */
export function checkLossFits(
  spec: Pick<ModelSpec, 'id' | 'inputShape' | 'layers' | 'loss' | 'numClasses'>,
  source = `model ${spec.id}`,
): void {
  const loss = spec.loss as string;
  if (!(LOSS_NAMES as readonly string[]).includes(loss))
    throw new ModelError(`${source}: the loss "${loss}" is not supported; ${supportedLine()}`);
  const out = inferShapes(spec).at(-1)!;
  const { activation, layer } = outputActivation(spec);
  const where = `${source}: ${spec.loss}`;
  if (out.length !== 1)
    throw new ModelError(
      `${where} needs one vector per sample, but the output of ${layer} has shape ` +
        `[${out.join(', ')}]: end the model with a Dense layer (after Flatten or pooling)`,
    );
  const units = out[0]!;
  if (units !== spec.numClasses)
    throw new ModelError(
      `${source}: numClasses is ${spec.numClasses}, but the output has ${units} units`,
    );
  if (spec.loss === 'binaryCrossentropy' && (units !== 1 || activation !== 'sigmoid'))
    throw new ModelError(
      `${where} needs a 1-unit sigmoid output, but ${layer} gives ${units} unit${
        units === 1 ? '' : 's'
      } with activation ${activation}` +
        (units > 1
          ? ': for one label among several classes use categoricalCrossentropy with softmax'
          : ': use activation "sigmoid" (from_logits=True is not supported)'),
    );
  if (
    (spec.loss === 'categoricalCrossentropy' || spec.loss === 'sparseCategoricalCrossentropy') &&
    (units < 2 || activation !== 'softmax')
  )
    throw new ModelError(
      `${where} needs a softmax output over 2 or more classes, but ${layer} gives ${units} unit${
        units === 1 ? '' : 's'
      } with activation ${activation}` +
        (units === 1
          ? ': a 1-unit sigmoid output trains with binaryCrossentropy'
          : ': use activation "softmax" (from_logits=True is not supported)'),
    );
}
