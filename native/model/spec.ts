import { z } from 'zod';
import { DtypeSchema } from '../common/schemas.js';

/**
 * A model is data, never code: an input shape and an ordered list of Keras Sequential layer configs.
 * A stage host receives a slice of `layers` and builds it with `buildModel`, which instantiates only
 * allowlisted classes, so nothing received over the wire can run arbitrary code.
 *
 * Layer configs use the TensorFlow.js argument names (camelCase, as `tf.layers.dense({...})` takes
 * them). `name` should be unique within the model; the catalogue and the importer always set it.
 */
export const LayerSpecSchema = z.object({
  className: z.string().min(1),
  config: z.record(z.string(), z.unknown()),
});
export type LayerSpec = z.infer<typeof LayerSpecSchema>;

export const InputDtypeSchema = DtypeSchema;
export type { Dtype as InputDtype } from '../common/schemas.js';

/**
 * The losses Pipefitter trains: the one list that the spec, the importer, the loss functions, the
 * stage executor and the reference trainer all use (see model/losses.ts for what each needs).
 */
export const LOSS_NAMES = [
  'binaryCrossentropy',
  'categoricalCrossentropy',
  'sparseCategoricalCrossentropy',
  'meanSquaredError',
] as const;
export const LossNameSchema = z.enum(LOSS_NAMES);
export type LossName = z.infer<typeof LossNameSchema>;

/** Which data a model trains on: the data/ module maps the hint to a dataset. */
export const DatasetHintSchema = z.enum(['mnist', 'text', 'synthetic']);
export type DatasetHint = z.infer<typeof DatasetHintSchema>;

export const ModelSpecSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  description: z.string(),
  /** One sample's shape, without the batch dimension. */
  inputShape: z.array(z.number().int().positive()).min(1),
  inputDtype: InputDtypeSchema,
  layers: z.array(LayerSpecSchema).min(1),
  loss: LossNameSchema,
  /** Units of the output layer (1 for a binary classifier, whose labels are 0 and 1). */
  numClasses: z.number().int().positive(),
  /** Seeds every layer's initializers (see `layerSeed`), so two builds of a spec start identical. */
  seed: z.number().int().nonnegative(),
  dataset: DatasetHintSchema,
});
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

/**
 * A 31-bit seed for one initializer of one layer, derived from the model seed. Each (layer, role)
 * pair gets its own stream, so a stage that builds layers 4..7 alone gets the same weights as a
 * single process that builds the whole model.
 */
export function layerSeed(modelSeed: number, layerIndex: number, role: number): number {
  // murmur3's 32-bit finaliser over a simple combination: cheap, and well mixed for nearby inputs.
  let h = (modelSeed ^ Math.imul(layerIndex + 1, 0x9e3779b1) ^ Math.imul(role + 1, 0x85ebca6b)) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 1;
}

/** The layer names of a spec, in order, with a fallback for configs that lack one. */
export function layerName(layer: LayerSpec, index: number): string {
  const n = layer.config.name;
  return typeof n === 'string' && n.length > 0 ? n : `${layer.className.toLowerCase()}_${index}`;
}
