import { backend_util, type KernelConfig, type KernelFunc } from '@tensorflow/tfjs-core';
import { free, run, type KernelArgs, type TensorInfo } from './kernelCall.js';
import { padOrCrop } from './padOrCrop.js';

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;

interface Attrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/**
 * The filter gradient of a 2-D convolution, which the wasm backend lacks, as one forward
 * convolution that the backend runs through XNNPACK:
 *
 *   dW[kh,kw,ci,co] = Σ_{n,p,q} x[n, p·s+kh−pad, q·s+kw−pad, ci] · dy[n,p,q,co]
 *
 * is a convolution of the input seen as a batch of `ci` images with `n` channels ([ci,H,W,n]) by the
 * output gradient seen as an OH×OW filter from `n` to `co` channels ([OH,OW,n,co]), with the
 * forward stride as the dilation, stride 1, and the forward padding in front. Its [ci,kh,kw,co]
 * result is the filter gradient after one transpose.
 */
export function conv2dBackpropFilter(args: KernelArgs<'x' | 'dy', Attrs>): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  if (attrs.dataFormat === 'NCHW')
    throw new Error("wasm Conv2DBackpropFilter supports dataFormat 'NHWC' only");
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const [, h, w] = x.shape as [number, number, number, number];
  const [, oh, ow] = dy.shape as [number, number, number, number];
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // The padding after the image that makes the result exactly fh×fw (negative: rows never read).
  const bottom = fh + (oh - 1) * sh - h - top;
  const right = fw + (ow - 1) * sw - w - left;

  const images = run(backend, 'Transpose', { x }, { perm: [3, 1, 2, 0] });
  const filter = run(backend, 'Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  const padded = padOrCrop(backend, images, [top, bottom, left, right]);
  const grad = run(
    backend,
    'Conv2D',
    { x: padded ?? images, filter },
    { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [sh, sw] },
  );
  const out = run(backend, 'Transpose', { x: grad }, { perm: [1, 2, 0, 3] });
  free(backend, images, filter, grad);
  if (padded) free(backend, padded);
  return out;
}

export const conv2dBackpropFilterKernel = (): Omit<KernelConfig, 'backendName'> => ({
  kernelName: 'Conv2DBackpropFilter',
  kernelFunc: conv2dBackpropFilter as unknown as KernelFunc,
});
