import type * as tfc from '@tensorflow/tfjs-core';
import type { Tf } from '../backend/tfTypes.js';
const FUSED = new Set(['linear', 'relu', 'sigmoid']);

export interface DenseParams {
  kernel: tfc.Variable;
  bias: tfc.Variable | null;
  activation: string;
}

/** What F keeps per micro-batch: each layer's input and output. */
export interface DenseTape {
  inputs: tfc.Tensor[];
  outputs: tfc.Tensor[];
}

/**
 * Forward through a stack of Dense layers, keeping each layer's input and output: exactly what the
 * backward pass needs, so B never recomputes the forward (the generic path must, as tfjs keeps no tape).
 */
export function denseForward(
  tf: Tf,
  layers: DenseParams[],
  x: tfc.Tensor,
): { y: tfc.Tensor; tape: DenseTape } {
  const inputs: tfc.Tensor[] = [];
  const outputs: tfc.Tensor[] = [];
  let h = x;
  for (const l of layers) {
    inputs.push(h);
    const out = tf.tidy(() => {
      // One fused kernel (product, bias, activation) where tfjs has it, as Dense.apply itself does.
      if (FUSED.has(l.activation)) {
        return tf.fused.matMul({
          a: h,
          b: l.kernel,
          bias: l.bias ?? undefined,
          activation: l.activation as 'linear' | 'relu' | 'sigmoid',
        });
      }
      const z = l.bias ? tf.add(tf.matMul(h, l.kernel), l.bias) : tf.matMul(h, l.kernel);
      return l.activation === 'tanh' ? tf.tanh(z) : tf.softmax(z);
    });
    outputs.push(out);
    h = out;
  }
  return { y: h, tape: { inputs, outputs } };
}

function activationGrad(tf: Tf, activation: string, dOut: tfc.Tensor, out: tfc.Tensor): tfc.Tensor {
  switch (activation) {
    case 'relu':
      return tf.mul(dOut, tf.step(out));
    case 'sigmoid':
      return tf.mul(dOut, tf.mul(out, tf.sub(1, out)));
    case 'tanh':
      return tf.mul(dOut, tf.sub(1, tf.square(out)));
    case 'softmax':
      return tf.mul(out, tf.sub(dOut, tf.sum(tf.mul(dOut, out), -1, true)));
    default:
      return dOut;
  }
}

/**
 * What B keeps for W when a schedule computes the weight gradients apart: each layer's input and the
 * gradient at its pre-activation (dz), plus every tensor of the tape to free once W is done.
 */
export interface DenseWeightTape {
  inputs: tfc.Tensor[];
  dzs: tfc.Tensor[];
  tape: DenseTape;
}

/**
 * The input-gradient half of the backward (what the previous stage waits for): each layer's dz from
 * the upstream gradient `dy`, and, unless `needInputGrad` is false, the gradient for the previous
 * stage. Keeps what the weight gradients need; `denseWeightGrads` computes them and frees it all.
 */
export function denseInputGrad(
  tf: Tf,
  layers: DenseParams[],
  tape: DenseTape,
  dy: tfc.Tensor,
  needInputGrad: boolean,
): { dx: tfc.Tensor | null; kept: DenseWeightTape } {
  const dzs: tfc.Tensor[] = new Array<tfc.Tensor>(layers.length);
  let dOut = dy;
  let dx: tfc.Tensor | null = null;
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i]!;
    const dz = tf.tidy(() => activationGrad(tf, l.activation, dOut, tape.outputs[i]!));
    dzs[i] = dz;
    const next = i > 0 || needInputGrad ? tf.matMul(dz, l.kernel, false, true) : null;
    if (dOut !== dy) dOut.dispose();
    if (i === 0) dx = next;
    else dOut = next!;
  }
  return { dx, kept: { inputs: tape.inputs, dzs, tape } };
}

/**
 * Layer i's part of the weight-gradient half (its kernel and bias gradients), freeing its dz; the
 * caller frees the tape once every layer is done (`freeTape`). Lets the replicas' all-reduce start on
 * the last layers while the first are still computed.
 */
export function denseLayerWeightGrads(
  tf: Tf,
  layer: DenseParams,
  kept: DenseWeightTape,
  i: number,
): tfc.Tensor[] {
  const dz = kept.dzs[i]!;
  const grads = [tf.matMul(kept.inputs[i]!, dz, true, false)];
  if (layer.bias) grads.push(tf.sum(dz, 0));
  dz.dispose();
  return grads;
}

/** Frees a weight tape's inputs and outputs (each distinct tensor once). */
export function freeTape(kept: DenseWeightTape): void {
  for (const t of new Set([...kept.tape.inputs, ...kept.tape.outputs])) t.dispose();
}

/** The weight-gradient half: kernel and bias gradients in the layers' weight order; frees the tape. */
export function denseWeightGrads(
  tf: Tf,
  layers: DenseParams[],
  kept: DenseWeightTape,
): tfc.Tensor[] {
  const grads: tfc.Tensor[] = [];
  layers.forEach((l, i) => {
    const dz = kept.dzs[i]!;
    grads.push(tf.matMul(kept.inputs[i]!, dz, true, false));
    if (l.bias) grads.push(tf.sum(dz, 0));
    dz.dispose();
  });
  // Each layer's output is the next one's input: dispose every distinct tensor once.
  for (const t of new Set([...kept.tape.inputs, ...kept.tape.outputs])) t.dispose();
  return grads;
}

/** The whole backward (both halves at once), for schedules without W. Disposes the tape. */
export function denseBackward(
  tf: Tf,
  layers: DenseParams[],
  tape: DenseTape,
  dy: tfc.Tensor,
  needInputGrad: boolean,
): { grads: tfc.Tensor[]; dx: tfc.Tensor | null } {
  const { dx, kept } = denseInputGrad(tf, layers, tape, dy, needInputGrad);
  return { grads: denseWeightGrads(tf, layers, kept), dx };
}
