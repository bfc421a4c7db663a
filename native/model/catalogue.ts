import { CHAR_VOCAB_SIZE } from './charCorpus.js';
import type { LayerSpec, ModelSpec } from './spec.js';

const dense = (name: string, units: number, activation: string): LayerSpec => ({
  className: 'Dense',
  config: { name, units, activation },
});

/** The sequence length the char model reads: 32 characters in, the 33rd predicted. */
export const CHAR_CONTEXT = 32;

const MODELS: ModelSpec[] = [
  {
    id: 'mnist-mlp',
    name: 'MNIST MLP',
    description: 'A small multilayer perceptron for MNIST digits: 784-512-256-10.',
    inputShape: [784],
    inputDtype: 'float32',
    layers: [
      dense('dense_1', 512, 'relu'),
      dense('dense_2', 256, 'relu'),
      dense('dense_3', 10, 'softmax'),
    ],
    loss: 'categoricalCrossentropy',
    numClasses: 10,
    seed: 1,
    dataset: 'mnist',
  },
  {
    id: 'mnist-cnn',
    name: 'MNIST CNN',
    description:
      'A LeNet-style convolutional net: conv-pool-conv-pool-dense-softmax on 28×28 digits.',
    inputShape: [28, 28, 1],
    inputDtype: 'float32',
    layers: [
      {
        className: 'Conv2D',
        config: { name: 'conv_1', filters: 16, kernelSize: 5, activation: 'relu', padding: 'same' },
      },
      { className: 'MaxPooling2D', config: { name: 'pool_1', poolSize: 2 } },
      {
        className: 'Conv2D',
        config: { name: 'conv_2', filters: 32, kernelSize: 5, activation: 'relu', padding: 'same' },
      },
      { className: 'MaxPooling2D', config: { name: 'pool_2', poolSize: 2 } },
      { className: 'Flatten', config: { name: 'flatten' } },
      dense('dense_1', 128, 'relu'),
      dense('dense_2', 10, 'softmax'),
    ],
    loss: 'categoricalCrossentropy',
    numClasses: 10,
    seed: 2,
    dataset: 'mnist',
  },
  {
    id: 'deep-mlp',
    name: 'Deep MLP',
    description:
      'A deep perceptron for MNIST, 784 → 8 × dense 1024 → 10: heavy enough that splitting it pays.',
    inputShape: [784],
    inputDtype: 'float32',
    layers: [
      ...Array.from({ length: 8 }, (_, i) => dense(`dense_${i + 1}`, 1024, 'relu')),
      dense('dense_out', 10, 'softmax'),
    ],
    loss: 'categoricalCrossentropy',
    numClasses: 10,
    seed: 3,
    dataset: 'mnist',
  },
  {
    id: 'char-gru',
    name: 'Character GRU',
    description:
      `A character-level language model: ${CHAR_CONTEXT} character ids → embedding → GRU → ` +
      'softmax over the next character. Trains on a generated text (native/model/charCorpus.ts).',
    inputShape: [CHAR_CONTEXT],
    inputDtype: 'int32',
    layers: [
      {
        className: 'Embedding',
        config: { name: 'embedding', inputDim: CHAR_VOCAB_SIZE, outputDim: 32 },
      },
      { className: 'GRU', config: { name: 'gru', units: 128 } },
      dense('next_char', CHAR_VOCAB_SIZE, 'softmax'),
    ],
    loss: 'sparseCategoricalCrossentropy',
    numClasses: CHAR_VOCAB_SIZE,
    seed: 4,
    dataset: 'text',
  },
];

/** The shipped models, in catalogue order. Specs are copies: callers may change them freely. */
export function listModels(): ModelSpec[] {
  return MODELS.map((m) => structuredClone(m));
}

export function getModel(id: string): ModelSpec {
  const m = MODELS.find((x) => x.id === id);
  if (!m)
    throw new Error(
      `unknown model "${id}"; the catalogue has: ${MODELS.map((x) => x.id).join(', ')}`,
    );
  return structuredClone(m);
}
