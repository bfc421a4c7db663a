import { free, run, view, type BackendWasm, type TensorInfo } from './kernelCall.js';
import { padOrCrop } from './padOrCrop.js';

export interface InputGradientGeometry {
  /** The forward input's height and width: the extent the input gradient must have. */
  height: number;
  width: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padLeft: number;
}

/**
 * The output gradient prepared so that a stride-1 'valid' convolution with the filter turned 180°
 * yields the input gradient: spread out by the stride (each gradient row followed by stride−1 zero
 * rows, likewise columns: the positions the forward skipped) and framed by zeros so each input pixel
 * sees every output pixel its forward window touched. Returns a tensor the caller owns.
 */
export function spreadAndFrame(
  backend: BackendWasm,
  dy: TensorInfo,
  g: InputGradientGeometry,
): TensorInfo {
  const [n, oh, ow, c] = dy.shape as [number, number, number, number];
  const sh = g.strideHeight;
  const sw = g.strideWidth;
  let spread: TensorInfo | null = null;
  if (sh > 1 || sw > 1) {
    const padded = run(
      backend,
      'PadV2',
      { x: view(dy, [n, oh, 1, ow, 1, c]) },
      {
        paddings: [
          [0, 0],
          [0, 0],
          [0, sh - 1],
          [0, 0],
          [0, sw - 1],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    spread = { ...padded, shape: [n, oh * sh, ow * sw, c] };
  }
  const src = spread ?? dy;
  const [, srcH, srcW] = src.shape as [number, number, number, number];
  const reachH = (g.filterHeight - 1) * g.dilationHeight;
  const reachW = (g.filterWidth - 1) * g.dilationWidth;
  // The spread's trailing zero rows count towards the bottom margin (or are cut if too many).
  const top = reachH - g.padTop;
  const left = reachW - g.padLeft;
  const bottom = g.height + reachH - srcH - top;
  const right = g.width + reachW - srcW - left;
  const framed = padOrCrop(backend, src, [top, bottom, left, right]);
  if (framed) {
    if (spread) free(backend, spread);
    return framed;
  }
  return spread ?? run(backend, 'Identity', { x: dy });
}
