import type { Dataset } from '../data/dataset.js';
import { microBatchRange, type EpochSampler } from '../data/sampler.js';
import type { StageData } from './scheduleRunner.js';

/**
 * Feeds a stage from its local copy of the dataset: the sampler decides indices from (seed, epoch), so
 * the first stage's inputs and the last stage's labels are for the same samples on every machine.
 * Global step s is step s mod stepsPerEpoch of epoch floor(s / stepsPerEpoch).
 */
export function datasetFeed(
  ds: Dataset,
  sampler: EpochSampler,
  microbatches: number,
  inputShape: number[],
): StageData {
  const locate = (step: number, mb: number) => {
    const epoch = Math.floor(step / sampler.stepsPerEpoch);
    return sampler.microBatch(epoch, step % sampler.stepsPerEpoch, mb, microbatches);
  };
  return {
    input(step, mb) {
      const idx = locate(step, mb);
      const data = ds.inputs('train', idx);
      return { shape: [idx.length, ...inputShape], dtype: ds.inputDtype, data };
    },
    labels(step, mb) {
      const idx = locate(step, mb);
      return { shape: [idx.length], dtype: 'int32', data: ds.labels('train', idx) };
    },
    share(mb) {
      const [from, to] = microBatchRange(sampler.batchSize, mb, microbatches);
      return (to - from) / sampler.batchSize;
    },
  };
}
