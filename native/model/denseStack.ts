import type { LayerSpec } from './spec.js';

/** Activations whose derivative the dense backward pass takes from the layer's output alone. */
const ACTIVATIONS = new Set(['linear', 'relu', 'sigmoid', 'tanh', 'softmax']);

/**
 * True when every layer is a Dense layer whose activation's derivative we can take from its output:
 * such a stage keeps its activations and never recomputes its forward (pipeline/denseBackward.ts), which
 * the planner's cost model charges accordingly.
 */
export function isDenseStack(layers: LayerSpec[]): boolean {
  return layers.every(
    (l) => l.className === 'Dense' && ACTIVATIONS.has(String(l.config.activation ?? 'linear')),
  );
}
