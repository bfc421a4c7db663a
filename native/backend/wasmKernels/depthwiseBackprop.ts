import { backend_util, type KernelConfig, type KernelFunc } from '@tensorflow/tfjs-core';
import { free, run, view, type KernelArgs, type TensorInfo } from './kernelCall.js';
import { padOrCrop } from './padOrCrop.js';
import { spreadAndFrame } from './spreadAndFrame.js';

type Shape4 = [number, number, number, number];

interface Attrs {
  strides: number | [number, number];
  dilations: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function convInfo(xShape: Shape4, filterShape: Shape4, attrs: Attrs) {
  return backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
}

/**
 * The input gradient of a depthwise convolution, as a depthwise convolution (XNNPACK) of the output
 * gradient, spread by the stride and framed (spreadAndFrame), with the filter turned 180°: each input pixel collects the
 * output pixels its window touched. With a channel multiplier M the C·M gradient channels are
 * convolved one to one and each group of M summed back into its input channel.
 */
export function depthwiseBackpropInput(
  args: KernelArgs<'dy' | 'filter', Attrs & { inputShape: Shape4 }>,
): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  const info = convInfo(attrs.inputShape, filter.shape as Shape4, attrs);
  const [n, h, w, c] = attrs.inputShape;
  const [fh, fw, , mult] = filter.shape as Shape4;
  const { dilationHeight: dh, dilationWidth: dw } = info;
  const cm = dy.shape[3]!;

  const framed = spreadAndFrame(backend, dy, {
    height: h,
    width: w,
    filterHeight: fh,
    filterWidth: fw,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: dh,
    dilationWidth: dw,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  });
  const flipped = run(backend, 'Reverse', { x: filter }, { dims: [0, 1] });
  const perChannel = run(
    backend,
    'DepthwiseConv2dNative',
    { x: framed, filter: view(flipped, [fh, fw, cm, 1]) },
    { strides: [1, 1], pad: 'valid', dilations: [dh, dw] },
  );
  let out = perChannel;
  if (mult > 1) {
    out = run(
      backend,
      'Sum',
      { x: view(perChannel, [n, h, w, c, mult]) },
      { axis: [4], keepDims: false },
    );
    free(backend, perChannel);
  }
  free(backend, flipped, framed);
  return out;
}

/**
 * The filter gradient of a depthwise convolution: for each filter tap, the input window that tap
 * saw (a strided slice), times the output gradient, summed over batch and positions. The sum is a
 * product with a row of ones, which XNNPACK runs at memory speed, where the Sum kernel would first
 * transpose the reduced axes inward. Work is taps × positions × channels, the convolution's own.
 */
export function depthwiseBackpropFilter(
  args: KernelArgs<'x' | 'dy', Attrs & { filterShape: Shape4 }>,
): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  const info = convInfo(x.shape as Shape4, attrs.filterShape, attrs);
  const [fh, fw, c, mult] = attrs.filterShape;
  const [n] = x.shape as Shape4;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { outHeight: oh, outWidth: ow } = info;
  const positions = n * oh * ow;
  const [, h, w] = x.shape as Shape4;
  // Frame the input so every tap's window lies inside it (padding zeros where the forward did).
  const bottom = Math.max(0, (oh - 1) * sh + (fh - 1) * dh + 1 - h - info.padInfo.top);
  const right = Math.max(0, (ow - 1) * sw + (fw - 1) * dw + 1 - w - info.padInfo.left);
  const framed = padOrCrop(backend, x, [info.padInfo.top, bottom, info.padInfo.left, right]);
  const src = framed ?? x;
  const ones = backend.makeOutput([1, positions], 'float32');
  backend.typedArrayFromHeap(ones).fill(1);
  const dyRows = view(dy, [positions, c, mult]);

  const out = backend.makeOutput(attrs.filterShape, 'float32');
  const tapSize = c * mult;
  for (let kh = 0; kh < fh; kh++) {
    for (let kw = 0; kw < fw; kw++) {
      const window = run(
        backend,
        'StridedSlice',
        { x: src },
        {
          begin: [0, kh * dh, kw * dw, 0],
          end: [n, kh * dh + (oh - 1) * sh + 1, kw * dw + (ow - 1) * sw + 1, c],
          strides: [1, sh, sw, 1],
          beginMask: 0,
          endMask: 0,
          ellipsisMask: 0,
          newAxisMask: 0,
          shrinkAxisMask: 0,
        },
      );
      const prod = run(backend, 'Multiply', { a: view(window, [positions, c, 1]), b: dyRows });
      const sum = run(
        backend,
        'BatchMatMul',
        { a: ones, b: view(prod, [positions, tapSize]) },
        { transposeA: false, transposeB: false },
      );
      const dst = backend.typedArrayFromHeap({ ...out, shape: [fh * fw * tapSize] });
      dst.set(backend.typedArrayFromHeap(view(sum, [tapSize])), (kh * fw + kw) * tapSize);
      free(backend, window, prod, sum);
    }
  }
  free(backend, ones);
  if (framed) free(backend, framed);
  return out;
}

export const depthwiseBackpropInputKernel = (): Omit<KernelConfig, 'backendName'> => ({
  kernelName: 'DepthwiseConv2dNativeBackpropInput',
  kernelFunc: depthwiseBackpropInput as unknown as KernelFunc,
});

export const depthwiseBackpropFilterKernel = (): Omit<KernelConfig, 'backendName'> => ({
  kernelName: 'DepthwiseConv2dNativeBackpropFilter',
  kernelFunc: depthwiseBackpropFilter as unknown as KernelFunc,
});
