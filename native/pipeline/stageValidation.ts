import type * as tfc from '@tensorflow/tfjs-core';
import { correctCountAsync, lossValue } from './loss.js';
import type { StageSetup } from './stageSetup.js';
import type { StageEvent, Train } from './stageProtocol.js';

/**
 * Forward-only pass of the test split through the pipeline: the first stage reads the inputs, each
 * stage hands its activations on, and the last stage reports the loss and accuracy. An interleaved
 * stage passes each batch through its chunks in turn, the batch going round the stages once a chunk.
 */
export async function runValidation(
  s: StageSetup,
  epoch: number,
  t: Train,
  emit: (e: StageEvent) => void,
): Promise<void> {
  const { tf, transport, dataset, cfg } = s;
  const execs = s.chunks.execs;
  const last = execs.at(-1)!;
  let lossSum = 0;
  let correct: number | null = 0;
  let samples = 0;
  for (let b = 0; b < t.valBatches; b++) {
    const idx = Int32Array.from({ length: t.valBatch }, (_, i) => b * t.valBatch + i);
    for (const [c, exec] of execs.entries()) {
      let input: tfc.Tensor;
      let n = t.valBatch;
      if (exec.isFirst)
        input = tf.tensor(
          dataset!.inputs('test', idx),
          [t.valBatch, ...cfg.model.inputShape],
          dataset!.inputDtype,
        );
      else {
        const w = await transport.recv('vact', epoch, b, c);
        input = tf.tensor(w.data, w.shape, w.dtype);
        n = w.shape[0]!;
      }
      const out = exec.infer(input);
      input.dispose();
      if (exec.isLast) {
        const labels = tf.tensor(dataset!.labels('test', idx.subarray(0, n)), [n], 'int32');
        const l = lossValue(tf, cfg.model, out, labels);
        lossSum += (await l.data())[0]! * n;
        const cc = await correctCountAsync(tf, cfg.model, out, labels);
        correct = cc === null || correct === null ? null : correct + cc;
        samples += n;
        l.dispose();
        labels.dispose();
      } else {
        await transport.send(
          'vact',
          epoch,
          b,
          { shape: out.shape, dtype: 'float32', data: (await out.data()) as Float32Array },
          c,
        );
      }
      out.dispose();
    }
  }
  if (last.isLast)
    emit({
      type: 'event',
      event: 'validation',
      stage: cfg.stageIndex,
      epoch,
      loss: lossSum / samples,
      accuracy: correct === null ? null : correct / samples,
      samples,
    });
}
