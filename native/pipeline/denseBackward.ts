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
 * Backward through the stack from the upstream gradient `dy`: weight gradients in the layers' weight
 * order (kernel, bias per layer) and, unless `needInputGrad` is false, the gradient for the previous
 * stage. Disposes the tape.
 */
export function denseBackward(
  tf: Tf,
  layers: DenseParams[],
  tape: DenseTape,
  dy: tfc.Tensor,
  needInputGrad: boolean,
): { grads: tfc.Tensor[]; dx: tfc.Tensor | null } {
  const grads: tfc.Tensor[][] = [];
  let dOut = dy;
  let dx: tfc.Tensor | null = null;
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i]!;
    const x = tape.inputs[i]!;
    const out = tape.outputs[i]!;
    const dz = tf.tidy(() => activationGrad(tf, l.activation, dOut, out));
    const dW = tf.matMul(x, dz, true, false);
    const layerGrads = [dW];
    if (l.bias) layerGrads.push(tf.sum(dz, 0));
    grads.unshift(layerGrads);
    const next = i > 0 || needInputGrad ? tf.matMul(dz, l.kernel, false, true) : null;
    dz.dispose();
    if (dOut !== dy) dOut.dispose();
    if (i === 0) dx = next;
    else dOut = next!;
  }
  // Each layer's output is the next one's input: dispose every distinct tensor once.
  for (const t of new Set([...tape.inputs, ...tape.outputs])) t.dispose();
  return { grads: grads.flat(), dx };
}
