/**
 * Turns the error a TensorFlow native addon throws at load time into one line a lab user can act
 * on. The raw messages name a shared library deep in a dlopen failure; what the user needs to know
 * is which CUDA or cuDNN version is missing.
 */
export function explainLoadError(message: string): string {
  const lib = /lib(cudart|cublas|cublasLt|cudnn|cufft|curand|cusolver|cusparse)[\w.+-]*/.exec(
    message,
  );
  if (lib) {
    const what = lib[1] === 'cudnn' ? 'cuDNN 8.1' : 'CUDA 11.2 runtime';
    return `${what} not found (${lib[0]}): tfjs-node-gpu needs CUDA 11.2 and cuDNN 8.1`;
  }
  if (/libtensorflow/.test(message))
    return `libtensorflow missing: the package's install step did not download it (${firstLine(message)})`;
  if (/GLIBC_[0-9.]+' not found/.test(message))
    return `the C library is too old for libtensorflow (${firstLine(message)})`;
  if (/Illegal instruction|AVX/i.test(message))
    return `this CPU lacks instructions libtensorflow was built for (${firstLine(message)})`;
  return firstLine(message);
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
