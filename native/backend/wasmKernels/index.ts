import {
  getKernel,
  registerKernel,
  unregisterKernel,
  type KernelConfig,
} from '@tensorflow/tfjs-core';
import { batchMatMulKernel, fusedMatMulKernel } from './batchMatMul.js';
import { conv2dBackpropFilterKernel } from './conv2dBackpropFilter.js';
import { conv2dBackpropInputKernel } from './conv2dBackpropInput.js';
import {
  depthwiseBackpropFilterKernel,
  depthwiseBackpropInputKernel,
} from './depthwiseBackprop.js';
import { rememberStock, stockConfig, stockKernel } from './kernelCall.js';
import { unsortedSegmentSumKernel } from './unsortedSegmentSum.js';

export { stockKernel };

/** Every kernel Pipefitter registers for 'wasm': those it lacks for training, and faster ones. */
const KERNELS = [
  batchMatMulKernel,
  fusedMatMulKernel,
  conv2dBackpropFilterKernel,
  conv2dBackpropInputKernel,
  depthwiseBackpropFilterKernel,
  depthwiseBackpropInputKernel,
  unsortedSegmentSumKernel,
];

const MARK = Symbol.for('pipefitter.wasmKernel');

function isOurs(config: KernelConfig | undefined): boolean {
  return !!config && MARK in config.kernelFunc;
}

/** Names of the kernels installWasmKernels registers (for tests and the bench). */
export const WASM_KERNEL_NAMES: readonly string[] = KERNELS.map((k) => k().kernelName);

/**
 * Registers Pipefitter's wasm kernels. The one place they are registered, called by initBackend when
 * wasm is chosen; safe to call again (a kernel already ours is left alone). A replaced kernel keeps
 * the shipped one's setup and dispose hooks, and the shipped function stays reachable (stockKernel)
 * for the kernels built on it and for the bench.
 */
export function installWasmKernels(): void {
  for (const make of KERNELS) {
    const ours = make();
    const existing = getKernel(ours.kernelName, 'wasm');
    if (isOurs(existing)) continue;
    if (existing) {
      rememberStock(existing);
      unregisterKernel(ours.kernelName, 'wasm');
    }
    Object.defineProperty(ours.kernelFunc, MARK, { value: true });
    registerKernel({
      ...ours,
      backendName: 'wasm',
      setupFunc: existing?.setupFunc,
      disposeFunc: existing?.disposeFunc,
    });
  }
}

/**
 * Puts the shipped kernels back (and removes the ones wasm never had), so the bench can measure the
 * backend as shipped next to the same backend with Pipefitter's kernels. Not for production use.
 */
export function uninstallWasmKernels(): void {
  for (const make of KERNELS) {
    const name = make().kernelName;
    if (!isOurs(getKernel(name, 'wasm'))) continue;
    unregisterKernel(name, 'wasm');
    const shipped = stockConfig(name);
    if (shipped) registerKernel(shipped);
  }
}
