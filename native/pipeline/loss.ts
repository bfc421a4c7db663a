import type * as tfc from '@tensorflow/tfjs-core';
import type { Tf } from '../backend/tfTypes.js';

const EPSILON = 1e-7;

/**
 * Mean cross-entropy of predicted probabilities (the catalogue's last layers are softmax), as Keras
 * computes it: probabilities clipped to [ε, 1−ε]. `labels` are class indices (the datasets store
 * classes, not one-hot rows), for both of the catalogue's loss names. The pipeline and the single-process reference share this.
 */
export function crossEntropy(
  tf: Tf,
  probs: tfc.Tensor,
  labels: tfc.Tensor,
  numClasses: number,
): tfc.Scalar {
  return tf.tidy(() => {
    const p = tf.clipByValue(probs, EPSILON, 1 - EPSILON);
    const oneHot = tf.oneHot(tf.cast(labels, 'int32'), numClasses);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.log(p)), -1))) as tfc.Scalar;
  });
}

/** Number of correct arg-max predictions. */
export function correctCount(tf: Tf, probs: tfc.Tensor, labels: tfc.Tensor): number {
  return tf.tidy(() => correctTensor(tf, probs, labels).dataSync()[0]!);
}

/** correctCount read asynchronously (a GPU backend cannot read back synchronously in Node). */
export async function correctCountAsync(
  tf: Tf,
  probs: tfc.Tensor,
  labels: tfc.Tensor,
): Promise<number> {
  const t = correctTensor(tf, probs, labels);
  const n = (await t.data())[0]!;
  t.dispose();
  return n;
}

function correctTensor(tf: Tf, probs: tfc.Tensor, labels: tfc.Tensor): tfc.Scalar {
  return tf.tidy(() =>
    tf.sum(tf.cast(tf.equal(tf.argMax(probs, -1), tf.cast(labels, 'int32')), 'int32')),
  );
}
