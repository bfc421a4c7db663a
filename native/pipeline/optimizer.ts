import { z } from 'zod';
import { OptimizerNameSchema } from '../common/schemas.js';
import type { Tf } from '../backend/tfTypes.js';

export const OptimizerSpecSchema = z.object({
  name: OptimizerNameSchema,
  learningRate: z.number().positive().max(10),
  /** momentum: the momentum term (default 0.9); adam: beta1/beta2/epsilon use tfjs defaults. */
  momentum: z.number().min(0).max(1).optional(),
});
export type OptimizerSpec = z.infer<typeof OptimizerSpecSchema>;

/** tfjs optimizers are element-wise per variable, so one per stage equals one for the whole model. */
export function makeOptimizer(tf: Tf, spec: OptimizerSpec) {
  switch (spec.name) {
    case 'sgd':
      return tf.train.sgd(spec.learningRate);
    case 'momentum':
      return tf.train.momentum(spec.learningRate, spec.momentum ?? 0.9);
    case 'adam':
      return tf.train.adam(spec.learningRate);
  }
}
