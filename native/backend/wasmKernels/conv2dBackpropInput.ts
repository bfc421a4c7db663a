import { backend_util, type KernelConfig, type KernelFunc } from '@tensorflow/tfjs-core';
import { free, run, view, type KernelArgs, type TensorInfo } from './kernelCall.js';
import { spreadAndFrame } from './spreadAndFrame.js';

interface Attrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

/**
 * The input gradient of a 2-D convolution as a forward convolution: the output gradient, spread by
 * the stride and framed (spreadAndFrame), convolved with the filter turned 180° and its channel axes
 * swapped ([fh,fw,cin,cout] → [fh,fw,cout,cin]). The shipped kernel computes the same sum in a plain
 * loop, 5–6 times slower than XNNPACK's convolution of the same size, and it dominated a CNN step.
 */
export function conv2dBackpropInput(args: KernelArgs<'dy' | 'filter', Attrs>): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  if (attrs.dataFormat === 'NCHW')
    throw new Error("wasm Conv2DBackpropInput supports dataFormat 'NHWC' only");
  const info = backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const [fh, fw, cin, cout] = filter.shape as [number, number, number, number];
  const framed = spreadAndFrame(backend, dy, {
    height: attrs.inputShape[1],
    width: attrs.inputShape[2],
    filterHeight: fh,
    filterWidth: fw,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: 1,
    dilationWidth: 1,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  });
  const flipped = run(backend, 'Reverse', { x: filter }, { dims: [0, 1] });
  const swapped = run(
    backend,
    'Transpose',
    { x: view(flipped, [fh, fw, cin, cout]) },
    { perm: [0, 1, 3, 2] },
  );
  const out = run(
    backend,
    'Conv2D',
    { x: framed, filter: swapped },
    { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] },
  );
  free(backend, framed, flipped, swapped);
  return out;
}

export const conv2dBackpropInputKernel = (): Omit<KernelConfig, 'backendName'> => ({
  kernelName: 'Conv2DBackpropInput',
  kernelFunc: conv2dBackpropInput as unknown as KernelFunc,
});
