import {
  getKernel,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type { BackendWasm, TensorInfo };

/**
 * The arguments every kernel function receives. Inputs are TensorInfos (no Tensor wrappers, no
 * tape): the composite kernels here call other wasm kernels directly, as the backend's own
 * composite kernels do, so nothing they compute is recorded for gradients or tracked by scopes.
 */
export interface KernelArgs<I extends string = string, A = NamedAttrMap> {
  inputs: Record<I, TensorInfo>;
  backend: BackendWasm;
  attrs: A;
}

/** The wasm backend's own kernels, as shipped, for the kernels Pipefitter replaces. */
const stock = new Map<string, KernelConfig>();

export function rememberStock(config: KernelConfig): void {
  if (!stock.has(config.kernelName)) stock.set(config.kernelName, config);
}

export function stockConfig(name: string): KernelConfig | undefined {
  return stock.get(name);
}

/** The shipped wasm kernel for `name` (for a replaced kernel: the one it replaced). */
export function stockKernel(name: string): KernelFunc {
  const config = stock.get(name) ?? getKernel(name, 'wasm');
  if (!config) throw new Error(`the wasm backend has no ${name} kernel`);
  return config.kernelFunc;
}

/** Runs a shipped wasm kernel on TensorInfos; the caller owns (and must free) the result. */
export function run(
  backend: BackendWasm,
  name: string,
  inputs: Record<string, TensorInfo>,
  attrs: Record<string, unknown> = {},
): TensorInfo {
  const out = stockKernel(name)({
    inputs: inputs as NamedTensorInfoMap,
    backend,
    attrs: attrs as NamedAttrMap,
  });
  if (Array.isArray(out)) throw new Error(`${name} returned several outputs`);
  return out;
}

/** Releases intermediate results (a reshaped view shares data by reference count, so this is safe). */
export function free(backend: BackendWasm, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/**
 * The same data seen with another shape, for passing to a kernel. It does not own the data: never
 * free it, and never return it as a kernel's output.
 */
export function view(info: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: info.dataId, dtype: info.dtype, shape };
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
