import type { LayerClassName } from './allowlist.js';
import { isAllowedLayerClass, supportedClassesLine } from './allowlist.js';
import { ModelError } from './modelError.js';
import { layerName, type LayerSpec, type ModelSpec } from './spec.js';

type Config = Record<string, unknown>;

/** Reads an integer pair option (kernelSize: 3 or [3, 3]); Keras accepts both forms. */
export function pairOption(v: unknown, fallback: [number, number]): [number, number] {
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number'))
    return [v[0] as number, v[1] as number];
  throw new Error(`expected a number or a pair of numbers, got ${JSON.stringify(v)}`);
}

function positiveInt(c: Config, key: string): number {
  const v = c[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    throw new Error(`needs ${key} as a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/** Output length of one spatial axis of a convolution or pooling window. */
export function convAxis(
  size: number,
  kernel: number,
  stride: number,
  padding: string,
  dilation = 1,
): number {
  const effective = (kernel - 1) * dilation + 1;
  if (padding === 'same') return Math.ceil(size / stride);
  if (padding === 'valid') return Math.floor((size - effective) / stride) + 1;
  throw new Error(`padding "${padding}" is not supported (use "valid" or "same")`);
}

function expectRank(input: number[], rank: number, what: string): void {
  if (input.length !== rank)
    throw new Error(`expects ${what} (rank ${rank} per sample), got shape [${input.join(', ')}]`);
}

function channelsLast(c: Config): void {
  const f = c.dataFormat;
  if (f !== undefined && f !== 'channelsLast')
    throw new Error(`dataFormat "${String(f)}" is not supported (only channelsLast)`);
}

function spatial(
  c: Config,
  input: number[],
  kernel: [number, number],
  strides: [number, number],
  dilation: [number, number] = [1, 1],
): [number, number] {
  channelsLast(c);
  expectRank(input, 3, '[height, width, channels]');
  const padding = (c.padding as string | undefined) ?? 'valid';
  const h = convAxis(input[0]!, kernel[0], strides[0], padding, dilation[0]);
  const w = convAxis(input[1]!, kernel[1], strides[1], padding, dilation[1]);
  if (h <= 0 || w <= 0)
    throw new Error(
      `window ${kernel.join('×')} does not fit input ${input[0]}×${input[1]} with padding "${padding}"`,
    );
  return [h, w];
}

function shapeOf(cls: LayerClassName, c: Config, input: number[]): number[] {
  switch (cls) {
    case 'Dense':
      return [...input.slice(0, -1), positiveInt(c, 'units')];
    case 'Conv2D': {
      const [h, w] = spatial(
        c,
        input,
        pairOption(c.kernelSize, [0, 0]),
        pairOption(c.strides, [1, 1]),
        pairOption(c.dilationRate, [1, 1]),
      );
      return [h, w, positiveInt(c, 'filters')];
    }
    case 'DepthwiseConv2D': {
      const [h, w] = spatial(
        c,
        input,
        pairOption(c.kernelSize, [0, 0]),
        pairOption(c.strides, [1, 1]),
        pairOption(c.dilationRate, [1, 1]),
      );
      return [h, w, input[2]! * ((c.depthMultiplier as number | undefined) ?? 1)];
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      const pool = pairOption(c.poolSize, [2, 2]);
      const [h, w] = spatial(c, input, pool, pairOption(c.strides, pool));
      return [h, w, input[2]!];
    }
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D':
      channelsLast(c);
      expectRank(input, 3, '[height, width, channels]');
      return [input[2]!];
    case 'Flatten':
      return [input.reduce((a, b) => a * b, 1)];
    case 'Reshape': {
      const target = c.targetShape;
      if (!Array.isArray(target) || !target.every((x) => typeof x === 'number'))
        throw new Error(`needs targetShape as an array of numbers`);
      const total = input.reduce((a, b) => a * b, 1);
      const known = (target as number[]).filter((x) => x !== -1).reduce((a, b) => a * b, 1);
      const out = (target as number[]).map((x) => (x === -1 ? total / known : x));
      if (out.reduce((a, b) => a * b, 1) !== total || out.some((x) => !Number.isInteger(x)))
        throw new Error(
          `cannot reshape [${input.join(', ')}] to [${(target as number[]).join(', ')}]`,
        );
      return out;
    }
    case 'Dropout':
    case 'Activation':
    case 'BatchNormalization':
    case 'LayerNormalization':
      return [...input];
    case 'Embedding':
      positiveInt(c, 'inputDim');
      return [...input, positiveInt(c, 'outputDim')];
    case 'SimpleRNN':
    case 'LSTM':
    case 'GRU': {
      expectRank(input, 2, '[timesteps, features]');
      const units = positiveInt(c, 'units');
      return c.returnSequences === true ? [input[0]!, units] : [units];
    }
  }
}

/** The output shape (per sample) of one layer given its input shape, or a ModelError naming it. */
export function outputShape(layer: LayerSpec, index: number, input: number[]): number[] {
  const where = `layer ${index} ("${layerName(layer, index)}", ${layer.className})`;
  if (!isAllowedLayerClass(layer.className))
    throw new ModelError(`${where} is not a supported layer class; ${supportedClassesLine()}`);
  try {
    return shapeOf(layer.className, layer.config, input);
  } catch (err) {
    throw new ModelError(`${where} ${(err as Error).message}`);
  }
}

/** Every layer's output shape (per sample), in order. */
export function inferShapes(spec: Pick<ModelSpec, 'inputShape' | 'layers'>): number[][] {
  const out: number[][] = [];
  let shape = spec.inputShape;
  spec.layers.forEach((layer, i) => {
    shape = outputShape(layer, i, shape);
    out.push(shape);
  });
  return out;
}
