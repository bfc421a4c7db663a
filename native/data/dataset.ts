import type { Dtype } from '../common/schemas.js';

/**
 * A dataset as the pipeline sees it: the first stage reads inputs, the last stage reads labels, each
 * for the same sample indices, each from its own local copy. Nothing but indices crosses machines.
 */
export interface Dataset {
  /** e.g. "mnist", "synthetic:784x10", "csv:/data/iris.csv" */
  id: string;
  /** Per-sample input shape (no batch dimension). */
  inputShape: number[];
  inputDtype: Dtype;
  numClasses: number;
  size(split: Split): number;
  /** Inputs of the given samples, concatenated row-major: indices.length × prod(inputShape). */
  inputs(split: Split, indices: ArrayLike<number>): Float32Array | Int32Array;
  /** Class labels of the given samples. */
  labels(split: Split, indices: ArrayLike<number>): Int32Array;
}

export type Split = 'train' | 'test';

export class DatasetError extends Error {}

export function sampleSize(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
