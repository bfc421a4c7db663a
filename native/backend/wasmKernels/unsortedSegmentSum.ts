import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { free, run, sizeOf, view, type KernelArgs, type TensorInfo } from './kernelCall.js';

/**
 * UnsortedSegmentSum (the gradient of a gather, so of every embedding layer), which the wasm backend
 * lacks, as one ScatterNd: the backend's scatter adds rows that share an index, which is exactly a
 * segment sum, in one pass over the data. A one-hot product would cost segments × rows × width
 * instead (for a 50 000-word vocabulary, billions of multiplications for a few thousand rows).
 * TensorFlow drops ids outside [0, numSegments); the scatter would write out of bounds, so such rows
 * are removed first with a gather.
 */
export function unsortedSegmentSum(
  args: KernelArgs<'x' | 'segmentIds', { numSegments: number }>,
): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, segmentIds } = inputs;
  const { numSegments } = attrs;
  const rows = sizeOf(segmentIds.shape);
  const rowShape = x.shape.slice(segmentIds.shape.length);
  const outShape = [numSegments, ...rowShape];
  const ids = backend.typedArrayFromHeap(view(segmentIds, [rows]));
  const keep: number[] = [];
  for (let i = 0; i < rows; i++) {
    const id = ids[i]!;
    if (id >= 0 && id < numSegments) keep.push(i);
  }
  if (keep.length === 0 || sizeOf(rowShape) === 0) {
    const out = backend.makeOutput(outShape, x.dtype);
    backend.typedArrayFromHeap(out).fill(0);
    return out;
  }
  const updatesAll = view(x, [rows, ...rowShape]);
  let updates = updatesAll;
  let indices = view(segmentIds, [rows, 1]);
  const owned: TensorInfo[] = [];
  if (keep.length < rows) {
    const keepIds = backend.makeOutput([keep.length], 'int32');
    backend.typedArrayFromHeap(keepIds).set(keep);
    updates = run(
      backend,
      'GatherV2',
      { x: updatesAll, indices: keepIds },
      { axis: 0, batchDims: 0 },
    );
    const kept = run(
      backend,
      'GatherV2',
      { x: view(segmentIds, [rows]), indices: keepIds },
      {
        axis: 0,
        batchDims: 0,
      },
    );
    indices = view(kept, [keep.length, 1]);
    owned.push(keepIds, updates, kept);
  }
  if (segmentIds.dtype !== 'int32') {
    const cast = run(backend, 'Cast', { x: indices }, { dtype: 'int32' });
    indices = cast;
    owned.push(cast);
  }
  const out = run(backend, 'ScatterNd', { indices, updates }, { shape: outShape });
  free(backend, ...owned);
  return out;
}

export const unsortedSegmentSumKernel = (): Omit<KernelConfig, 'backendName'> => ({
  kernelName: 'UnsortedSegmentSum',
  kernelFunc: unsortedSegmentSum as unknown as KernelFunc,
});
