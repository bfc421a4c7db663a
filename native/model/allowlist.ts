/**
 * The layer classes Pipefitter will ever instantiate, and the only ones the cost model, the importer
 * and the stage host accept. Each is declarative (no lambdas, no custom code) and has a cost formula
 * in cost.ts. Adding a class means adding its factory (build.ts), shape and cost (cost.ts) and a test.
 */
export const LAYER_CLASSES = [
  'Dense',
  'Conv2D',
  'DepthwiseConv2D',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'Flatten',
  'Reshape',
  'Dropout',
  'Activation',
  'BatchNormalization',
  'LayerNormalization',
  'Embedding',
  'SimpleRNN',
  'LSTM',
  'GRU',
] as const;

export type LayerClassName = (typeof LAYER_CLASSES)[number];

export function isAllowedLayerClass(name: string): name is LayerClassName {
  return (LAYER_CLASSES as readonly string[]).includes(name);
}

/** One line for error messages: "supported layer classes: Dense, Conv2D, …". */
export function supportedClassesLine(): string {
  return `supported layer classes: ${LAYER_CLASSES.join(', ')}`;
}
