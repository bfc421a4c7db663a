import type { OptimizerName } from '../common/schemas.js';
import type { LayerClassName } from './allowlist.js';
import { ModelError } from './modelError.js';
import { pairOption, outputShape } from './shapes.js';
import { layerName, type LayerSpec, type ModelSpec } from './spec.js';

/** Everything is float32 on the wire and in memory (int32 ids are 4 bytes too). */
export const BYTES_PER_ELEMENT = 4;

export type { OptimizerName };

/** Optimizer state per trainable parameter, in parameters: momentum keeps a velocity, Adam m and v. */
const STATE_SLOTS: Record<OptimizerName, number> = { sgd: 0, momentum: 1, adam: 2 };
/** FLOPs per trainable parameter of one optimizer update (Adam: moments, bias correction, sqrt, divide). */
const STEP_FLOPS: Record<OptimizerName, number> = { sgd: 2, momentum: 4, adam: 12 };

/**
 * The cost of one layer, per sample. Conventions (the tests check them by hand):
 * - a multiply-add is 2 FLOPs; a bias add is 1 FLOP per output; activation functions and RNN gating
 *   are elementwise and not counted where a matrix product dominates;
 * - backward = gradient w.r.t. the input plus w.r.t. the weights, so twice the forward products, plus
 *   the bias gradient; weightless layers cost about their forward pass again;
 * - activationBytes is the output, what crosses a stage boundary; stashBytes is what the layer keeps
 *   per sample until its backward pass (the output, plus RNN per-step gates, dropout masks…);
 *   Flatten and Reshape are views, so they stash nothing.
 */
export interface LayerCost {
  index: number;
  name: string;
  className: string;
  inputShape: number[];
  outputShape: number[];
  params: number;
  trainableParams: number;
  forwardFlops: number;
  backwardFlops: number;
  activationBytes: number;
  stashBytes: number;
  weightBytes: number;
  /**
   * Backend kernels one micro-batch launches through the layer, whatever its size: its forward, and
   * its backward alone (a stage that recomputes runs the forward's again inside B). What a small or
   * recurrent layer costs beyond its FLOPs, at the machine's measured cost per kernel.
   */
  kernels: { forward: number; backward: number };
  /** Trainable weight tensors: the optimizer launches its kernels once per tensor. */
  variables: number;
  /**
   * Elements per sample a windowed pooling's backward writes (its input): charged at the backend's
   * measured rate for that gradient, which on wasm is hundreds of times its FLOPs at the product rate.
   */
  poolGradElements: number;
  /**
   * Elements per sample the layer's elementwise kernels touch, forward and backward alone, where the
   * FLOPs leave them out and they are not small: a recurrent layer's gates, every time step.
   */
  elementwise: { forward: number; backward: number };
  /**
   * FLOPs per sample of the backward's input gradient (dx), which a first stage skips for its first
   * trainable layer: nothing upstream wants it.
   */
  inputGradFlops: number;
  /**
   * Weight elements its product kernels prepare (XNNPACK packs a matrix the first time it multiplies
   * by it): after every optimizer step the new weights are packed again, once, by the step's first F.
   */
  packedParams: number;
  /**
   * Weight elements the layer's products pack afresh in every forward pass, whatever the step: a GRU
   * splits its recurrent kernel at every time step (tfjs-layers' GRUCell), and each slice is a new
   * tensor to the backend, which packs it again (t · 3u² a pass).
   */
  slicedParams: number;
  /**
   * Elements per sample an embedding lookup writes (its gather in F, again where B recomputes, and its
   * gradient's scatter-add in B), charged at the backend's measured rates for those.
   */
  gatherElements: number;
  /**
   * Whether its products are by the micro-batch's rows (a Dense layer on one vector a sample, a
   * recurrent layer at each time step): the weight gradient's inner dimension is then the rows, which
   * at small micro-batches runs far slower than the forward (the speed curve's products). A
   * convolution's weight gradient sums over rows × positions, so it is not.
   */
  rowProducts: boolean;
}

export interface ModelCost {
  modelId: string;
  inputShape: number[];
  /** One sample of the model input, in bytes: what the first stage reads. */
  inputBytes: number;
  layers: LayerCost[];
  params: number;
  trainableParams: number;
  forwardFlops: number;
  backwardFlops: number;
}

/**
 * Kernels per micro-batch [forward, backward] by layer type, as the stage executor runs them on wasm
 * (counted with tf.profile over one micro-batch of a one-layer stage; tfjs launches the same kernels
 * on every backend). Backward excludes the forward a recomputing stage runs again inside B.
 */
const KERNELS = {
  // matMul, bias add, activation; back: the activation's gradient, dx, dW, the bias sum, accumulate.
  Dense: [3, 5],
  Conv2D: [2, 14],
  Pooling: [1, 3],
  View: [1, 2],
  Embedding: [6, 10],
  // Not profiled: the mask and scale forward, the masked gradient back.
  Dropout: [3, 2],
  // Not profiled: mean, variance, normalise, scale and shift; about twice that back.
  Normalization: [8, 16],
} satisfies Record<string, [number, number]>;

/**
 * Kernels per time step [forward, backward] of a recurrent layer. GRU profiled (32 steps: 1125
 * forward, 3771 backward); LSTM and SimpleRNN scaled from it by their gates (not profiled).
 */
const KERNELS_PER_STEP: Record<'SimpleRNN' | 'LSTM' | 'GRU', [number, number]> = {
  SimpleRNN: [12, 40],
  LSTM: [44, 150],
  GRU: [35, 118],
};

/**
 * Kernels the last stage adds to each B: the loss, its scaling and its gradient back to the output
 * (profiled: 48 for a one-Dense last stage, of which 5 are the Dense's own).
 */
export const LOSS_KERNELS = 43;

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

interface Counts {
  /** Kernels forward and backward (LayerCost.kernels); absent: one each. */
  kernels?: [number, number];
  /** Weight tensors; absent: one where the layer has weights. */
  variables?: number;
  /** LayerCost.poolGradElements; absent: 0. */
  poolGrad?: number;
  /** LayerCost.elementwise; absent: none. */
  elementwise?: [number, number];
  /** LayerCost.inputGradFlops; absent: 0. */
  inputGrad?: number;
  /** LayerCost.packedParams; absent: 0. */
  packed?: number;
  /** LayerCost.slicedParams; absent: 0. */
  sliced?: number;
  /** LayerCost.gatherElements; absent: 0. */
  gather?: number;
  /** LayerCost.rowProducts; absent: false. */
  rowProducts?: boolean;
  params: number;
  trainable?: number;
  forward: number;
  backward: number;
  /** Extra bytes per sample kept for backward beyond the output. */
  internal?: number;
  /** True for views: nothing new is kept. */
  view?: boolean;
}

function counts(
  cls: LayerClassName,
  c: Record<string, unknown>,
  inp: number[],
  out: number[],
): Counts {
  const outN = prod(out);
  const inN = prod(inp);
  const bias = c.useBias !== false;
  switch (cls) {
    case 'Dense': {
      const n = inp[inp.length - 1]!;
      const u = out[out.length - 1]!;
      const rows = outN / u;
      const mm = 2 * rows * n * u;
      const b = bias ? rows * u : 0;
      return {
        params: n * u + (bias ? u : 0),
        forward: mm + b,
        backward: 2 * mm + b,
        kernels: KERNELS.Dense,
        variables: bias ? 2 : 1,
        inputGrad: mm,
        packed: n * u,
        rowProducts: rows === 1,
      };
    }
    case 'Conv2D': {
      const [kh, kw] = pairOption(c.kernelSize, [0, 0]);
      const cin = inp[2]!;
      const f = out[2]!;
      const mm = 2 * outN * kh * kw * cin;
      const b = bias ? outN : 0;
      return {
        params: kh * kw * cin * f + (bias ? f : 0),
        forward: mm + b,
        backward: 2 * mm + b,
        kernels: KERNELS.Conv2D,
        variables: bias ? 2 : 1,
        inputGrad: mm,
        packed: kh * kw * cin * f,
      };
    }
    case 'DepthwiseConv2D': {
      const [kh, kw] = pairOption(c.kernelSize, [0, 0]);
      const cout = out[2]!;
      const mm = 2 * outN * kh * kw;
      const b = bias ? outN : 0;
      return {
        params: kh * kw * cout + (bias ? cout : 0),
        forward: mm + b,
        backward: 2 * mm + b,
        kernels: KERNELS.Conv2D,
        variables: bias ? 2 : 1,
        inputGrad: mm,
        packed: kh * kw * cout,
      };
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      // One comparison or add per window element; backward routes or spreads each output's gradient.
      const [ph, pw] = pairOption(c.poolSize, [2, 2]);
      const f = outN * ph * pw;
      return { params: 0, forward: f, backward: f, kernels: KERNELS.Pooling, poolGrad: inN };
    }
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D':
      return { params: 0, forward: inN, backward: inN };
    case 'Flatten':
    case 'Reshape':
      return { params: 0, forward: 0, backward: 0, view: true, kernels: KERNELS.View };
    case 'Activation':
      return { params: 0, forward: outN, backward: outN };
    case 'Dropout':
      // The mask is a float32 tensor the size of the output, kept for backward.
      return {
        params: 0,
        forward: 2 * outN,
        backward: outN,
        internal: outN * BYTES_PER_ELEMENT,
        kernels: KERNELS.Dropout,
      };
    case 'BatchNormalization':
    case 'LayerNormalization': {
      // Per element: mean and variance (3), normalise (2), scale and shift (2); backward about twice.
      const ch = out[out.length - 1]!;
      const affine = (c.center !== false ? ch : 0) + (c.scale !== false ? ch : 0);
      const moving = cls === 'BatchNormalization' ? 2 * ch : 0;
      return {
        params: affine + moving,
        trainable: affine,
        forward: 7 * outN,
        backward: 14 * outN,
        internal: outN * BYTES_PER_ELEMENT,
        kernels: KERNELS.Normalization,
        variables: (c.center !== false ? 1 : 0) + (c.scale !== false ? 1 : 0),
      };
    }
    case 'Embedding': {
      // A gather forward and a scatter-add backward: one FLOP-equivalent per output element.
      const v = c.inputDim as number;
      const d = c.outputDim as number;
      return {
        params: v * d,
        forward: outN,
        backward: outN,
        kernels: KERNELS.Embedding,
        gather: outN,
      };
    }
    case 'SimpleRNN':
    case 'LSTM':
    case 'GRU': {
      const gates = cls === 'LSTM' ? 4 : cls === 'GRU' ? 3 : 1;
      const [t, f] = [inp[0]!, inp[1]!];
      const u = c.units as number;
      const mm = 2 * t * gates * u * (f + u);
      const b = bias ? t * gates * u : 0;
      // Backprop through time keeps every step's gates, plus every hidden state when only the last
      // is returned.
      const internal =
        (t * gates * u + (c.returnSequences === true ? 0 : t * u)) * BYTES_PER_ELEMENT;
      return {
        params: gates * (f * u + u * u + (bias ? u : 0)),
        forward: mm + b,
        backward: 2 * mm + b,
        internal,
        // tfjs runs a recurrent layer as a loop of small kernels, one chain per time step.
        kernels: [KERNELS_PER_STEP[cls][0] * t, KERNELS_PER_STEP[cls][1] * t],
        // Each of those kernels works on one gate's [rows, units] (the counts' order of magnitude).
        elementwise: [KERNELS_PER_STEP[cls][0] * t * u, KERNELS_PER_STEP[cls][1] * t * u],
        variables: bias ? 3 : 2,
        // The input's share of dx: the recurrent share flows back through time whatever the stage.
        inputGrad: 2 * t * gates * u * f,
        // GRU packs only its input kernel once a step: the recurrent one is sliced every time step.
        packed: cls === 'GRU' ? gates * f * u : gates * (f * u + u * u),
        sliced: cls === 'GRU' ? t * gates * u * u : 0,
        rowProducts: true,
      };
    }
  }
}

/** The cost of one layer given its input shape (per sample). */
export function layerCost(layer: LayerSpec, index: number, inputShape: number[]): LayerCost {
  const out = outputShape(layer, index, inputShape);
  const k = counts(layer.className as LayerClassName, layer.config, inputShape, out);
  const activationBytes = prod(out) * BYTES_PER_ELEMENT;
  const trainableParams = layer.config.trainable === false ? 0 : (k.trainable ?? k.params);
  return {
    index,
    name: layerName(layer, index),
    className: layer.className,
    inputShape,
    outputShape: out,
    params: k.params,
    trainableParams,
    forwardFlops: k.forward,
    backwardFlops: k.backward,
    activationBytes,
    stashBytes: k.view ? 0 : activationBytes + (k.internal ?? 0),
    weightBytes: k.params * BYTES_PER_ELEMENT,
    kernels: { forward: k.kernels?.[0] ?? 1, backward: k.kernels?.[1] ?? 1 },
    variables: trainableParams === 0 ? 0 : (k.variables ?? 1),
    poolGradElements: k.poolGrad ?? 0,
    elementwise: { forward: k.elementwise?.[0] ?? 0, backward: k.elementwise?.[1] ?? 0 },
    inputGradFlops: k.inputGrad ?? 0,
    packedParams: trainableParams === 0 ? 0 : (k.packed ?? 0),
    slicedParams: k.sliced ?? 0,
    gatherElements: k.gather ?? 0,
    rowProducts: k.rowProducts ?? false,
  };
}

/** Every layer's cost, in order; a ModelError names the first layer that does not fit its input. */
export function modelCost(spec: Pick<ModelSpec, 'id' | 'inputShape' | 'layers'>): ModelCost {
  if (spec.layers.length === 0) throw new ModelError(`model "${spec.id}" has no layers`);
  const layers: LayerCost[] = [];
  let shape = spec.inputShape;
  spec.layers.forEach((layer, i) => {
    const c = layerCost(layer, i, shape);
    layers.push(c);
    shape = c.outputShape;
  });
  const sum = (f: (l: LayerCost) => number) => layers.reduce((a, l) => a + f(l), 0);
  return {
    modelId: spec.id,
    inputShape: spec.inputShape,
    inputBytes: prod(spec.inputShape) * BYTES_PER_ELEMENT,
    layers,
    params: sum((l) => l.params),
    trainableParams: sum((l) => l.trainableParams),
    forwardFlops: sum((l) => l.forwardFlops),
    backwardFlops: sum((l) => l.backwardFlops),
  };
}

/** Bytes of optimizer state for this many trainable parameters. */
export function optimizerStateBytes(trainableParams: number, optimizer: OptimizerName): number {
  return trainableParams * STATE_SLOTS[optimizer] * BYTES_PER_ELEMENT;
}

/**
 * Kernels one optimizer update launches per weight tensor, whatever its size (adam profiled: 16, with
 * 4 a step besides; sgd and momentum scaled from it by their state).
 */
export const OPTIMIZER_KERNELS_PER_VARIABLE: Record<OptimizerName, number> = {
  sgd: 4,
  momentum: 8,
  adam: 16,
};

/** FLOPs of one optimizer update over this many trainable parameters. */
export function optimizerStepFlops(trainableParams: number, optimizer: OptimizerName): number {
  return trainableParams * STEP_FLOPS[optimizer];
}
