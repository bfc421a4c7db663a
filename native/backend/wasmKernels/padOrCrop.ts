import { free, run, type BackendWasm, type TensorInfo } from './kernelCall.js';

/** [top, bottom, left, right]: rows and columns to add (positive) or remove (negative). */
export type Margins = [number, number, number, number];

/**
 * An NHWC tensor with its spatial edges grown by zeros or cut, so that a following 'valid'
 * convolution has exactly the extent a gradient needs. Returns null when nothing changes (the
 * caller then uses its input as is); otherwise the caller owns the result.
 */
export function padOrCrop(backend: BackendWasm, x: TensorInfo, m: Margins): TensorInfo | null {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const cut = m.map((v) => Math.max(0, -v)) as Margins;
  const grow = m.map((v) => Math.max(0, v)) as Margins;
  let cur: TensorInfo | null = null;
  if (cut.some((v) => v > 0)) {
    cur = run(
      backend,
      'Slice',
      { x },
      {
        begin: [0, cut[0], cut[2], 0],
        size: [n, h - cut[0] - cut[1], w - cut[2] - cut[3], c],
      },
    );
  }
  if (grow.some((v) => v > 0)) {
    const padded = run(
      backend,
      'PadV2',
      { x: cur ?? x },
      {
        paddings: [
          [0, 0],
          [grow[0], grow[1]],
          [grow[2], grow[3]],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    if (cur) free(backend, cur);
    cur = padded;
  }
  return cur;
}
