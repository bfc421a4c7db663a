import type { LayerSpec, LossName, ModelSpec } from '../../native/model/spec.js';

const dense = (name: string, units: number, activation: string): LayerSpec => ({
  className: 'Dense',
  config: { name, units, activation },
});

/** The output each loss trains: one sigmoid unit, a softmax over 4 classes, 3 linear units. */
const OUTPUTS: Record<LossName, LayerSpec> = {
  binaryCrossentropy: dense('out', 1, 'sigmoid'),
  categoricalCrossentropy: dense('out', 4, 'softmax'),
  sparseCategoricalCrossentropy: dense('out', 4, 'softmax'),
  meanSquaredError: dense('out', 3, 'linear'),
};

/**
 * A small model on 8 features for one loss: Dense 16 relu, Dense 16 tanh, then the loss's output. With
 * `recompute`, a LayerNormalization before the output makes the last stage one that recomputes its
 * forward at B (the generic path) instead of keeping activations (the dense path).
 */
export function lossModel(loss: LossName, recompute = false): ModelSpec {
  const out = OUTPUTS[loss];
  return {
    id: `${loss}${recompute ? '-ln' : ''}`,
    name: loss,
    description: `a small model trained with ${loss}`,
    inputShape: [8],
    inputDtype: 'float32',
    layers: [
      dense('h1', 16, 'relu'),
      dense('h2', 16, 'tanh'),
      ...(recompute ? [{ className: 'LayerNormalization', config: { name: 'norm' } }] : []),
      out,
    ],
    loss,
    numClasses: out.config.units as number,
    seed: 7,
    dataset: 'synthetic',
  };
}
