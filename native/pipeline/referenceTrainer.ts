import type * as tfc from '@tensorflow/tfjs-core';
import type { Tf } from '../backend/tfTypes.js';
import { buildModel } from '../model/build.js';
import type { ModelSpec } from '../model/spec.js';
import { lossValue } from './loss.js';
import { makeOptimizer, type OptimizerSpec } from './optimizer.js';
import type { StageData } from './scheduleRunner.js';
import type { NamedWeight } from './stageExecutor.js';

/**
 * Ordinary single-process training, written independently of the pipeline runtime (tf.variableGrads
 * over the whole model, no stages, no stash): the yardstick the pipeline's weights must match. The
 * loss is micro-batched the same way: Σ_mb share(mb) · mean-loss(mb) = the mini-batch's mean loss.
 */
export class ReferenceTrainer {
  private readonly model: ReturnType<typeof buildModel>;
  private readonly optimizer: ReturnType<typeof makeOptimizer>;

  constructor(
    private readonly tf: Tf,
    private readonly spec: ModelSpec,
    private readonly microbatches: number,
    optimizer: OptimizerSpec,
    private readonly data: StageData,
  ) {
    this.model = buildModel(tf, spec);
    this.optimizer = makeOptimizer(tf, optimizer);
  }

  step(step: number): number {
    const tf = this.tf;
    const vars = this.model.trainableWeights.map((w) => w.read() as tfc.Variable);
    const { value, grads } = tf.variableGrads(() => {
      let total = tf.scalar(0);
      for (let mb = 0; mb < this.microbatches; mb++) {
        const x = this.data.input(step, mb);
        const y = this.data.labels(step, mb);
        const probs = this.model.apply(tf.tensor(x.data, x.shape, x.dtype), {
          training: true,
        }) as tfc.Tensor;
        total = tf.add(
          total,
          tf.mul(
            lossValue(tf, this.spec, probs, tf.tensor(y.data, y.shape, 'int32')),
            this.data.share(mb),
          ),
        );
      }
      return total as tfc.Scalar;
    }, vars);
    this.optimizer.applyGradients(
      Object.entries(grads).map(([name, tensor]) => ({ name, tensor })),
    );
    const loss = value.dataSync()[0]!;
    value.dispose();
    Object.values(grads).forEach((g) => g.dispose());
    return loss;
  }

  weights(): NamedWeight[] {
    return this.model.getWeights().map((w, i) => ({
      name: this.model.weights[i]!.originalName,
      shape: w.shape,
      data: w.dataSync() as Float32Array,
    }));
  }

  dispose(): void {
    this.optimizer.dispose();
    this.model.dispose();
  }
}
