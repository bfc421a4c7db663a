import type * as tfc from '@tensorflow/tfjs-core';
import type { Tf } from '../backend/tfTypes.js';
import { lossHasAccuracy } from '../model/losses.js';
import type { ModelSpec } from '../model/spec.js';

const EPSILON = 1e-7;

/** What a loss needs to know of the model: its name and the output's units. */
export type LossOf = Pick<ModelSpec, 'loss' | 'numClasses'>;

/**
 * The mean loss of a batch of model outputs against class-index labels (the datasets store classes,
 * never one-hot rows), as Keras computes each loss: probabilities clipped to [ε, 1−ε] for the
 * cross-entropies, the mean over every output value for the squared error (the target of a 1-unit
 * output is the label itself, of several units its one-hot row). The pipeline's last stage and the
 * single-process reference both differentiate this one function, so they train identically.
 */
export function lossValue(
  tf: Tf,
  model: LossOf,
  outputs: tfc.Tensor,
  labels: tfc.Tensor,
): tfc.Scalar {
  return tf.tidy(() => {
    const target = (): tfc.Tensor =>
      model.numClasses === 1
        ? tf.reshape(tf.cast(labels, 'float32'), outputs.shape)
        : tf.oneHot(tf.cast(labels, 'int32'), model.numClasses);
    switch (model.loss) {
      case 'binaryCrossentropy': {
        const p = tf.clipByValue(outputs, EPSILON, 1 - EPSILON);
        const y = target();
        // −[y·log p + (1−y)·log(1−p)], averaged over the batch.
        return tf.neg(
          tf.mean(tf.add(tf.mul(y, tf.log(p)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, p))))),
        ) as tfc.Scalar;
      }
      case 'categoricalCrossentropy':
      case 'sparseCategoricalCrossentropy': {
        const p = tf.clipByValue(outputs, EPSILON, 1 - EPSILON);
        return tf.neg(tf.mean(tf.sum(tf.mul(target(), tf.log(p)), -1))) as tfc.Scalar;
      }
      case 'meanSquaredError':
        return tf.mean(tf.square(tf.sub(outputs, target()))) as tfc.Scalar;
    }
  });
}

/**
 * Correct predictions in a batch, or null where the loss has no accuracy (a regression): a 1-unit
 * output predicts class 1 above 0.5 (Keras's binary accuracy), several units the arg-max.
 */
export function correctCount(
  tf: Tf,
  model: LossOf,
  outputs: tfc.Tensor,
  labels: tfc.Tensor,
): number | null {
  if (!lossHasAccuracy(model.loss)) return null;
  return tf.tidy(() => correctTensor(tf, model, outputs, labels).dataSync()[0]!);
}

/** correctCount read asynchronously (a GPU backend cannot read back synchronously in Node). */
export async function correctCountAsync(
  tf: Tf,
  model: LossOf,
  outputs: tfc.Tensor,
  labels: tfc.Tensor,
): Promise<number | null> {
  if (!lossHasAccuracy(model.loss)) return null;
  const t = correctTensor(tf, model, outputs, labels);
  const n = (await t.data())[0]!;
  t.dispose();
  return n;
}

function correctTensor(tf: Tf, model: LossOf, outputs: tfc.Tensor, labels: tfc.Tensor): tfc.Scalar {
  return tf.tidy(() => {
    const predicted =
      model.numClasses === 1
        ? tf.cast(tf.greater(tf.reshape(outputs, [-1]), 0.5), 'int32')
        : tf.argMax(outputs, -1);
    return tf.sum(tf.cast(tf.equal(predicted, tf.cast(labels, 'int32')), 'int32')) as tfc.Scalar;
  });
}
