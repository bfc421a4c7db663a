import type * as TfAll from '@tensorflow/tfjs';

/**
 * The TensorFlow.js namespace a stage trains with: core ops plus layers. Every backend package
 * (tfjs-node, tfjs-node-gpu, or @tensorflow/tfjs with the wasm or cpu backend registered) exposes
 * this same shape over one shared tfjs-core, so callers never care which one they got.
 */
export type Tf = typeof TfAll;
