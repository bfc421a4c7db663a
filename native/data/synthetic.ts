import { sampleSize, type Dataset, type Split } from './dataset.js';
import { mixSeed, mulberry32 } from '../util/random.js';

/**
 * A learnable synthetic classification set, generated on the fly from a seed: a fixed random linear
 * "teacher" labels Gaussian inputs. Any sample is computed from (seed, split, index) alone, so stages
 * on different machines see identical data with nothing stored or shipped.
 */
export class SyntheticDataset implements Dataset {
  readonly id: string;
  readonly inputDtype = 'float32' as const;
  private readonly features: number;
  private readonly teacher: Float32Array;

  constructor(
    readonly inputShape: number[],
    readonly numClasses: number,
    private readonly sizes: Record<Split, number> = { train: 8192, test: 2048 },
    private readonly seed = 1,
  ) {
    this.features = sampleSize(inputShape);
    this.id = `synthetic:${inputShape.join('x')}:${numClasses}`;
    const rand = mulberry32(mixSeed(seed, 0x7eac));
    this.teacher = Float32Array.from({ length: this.features * numClasses }, () => rand() * 2 - 1);
  }

  size(split: Split): number {
    return this.sizes[split];
  }

  private sample(split: Split, index: number): Float32Array {
    const rand = mulberry32(mixSeed(this.seed + (split === 'train' ? 0 : 1_000_003), index));
    const x = new Float32Array(this.features);
    for (let i = 0; i < x.length; i += 2) {
      // Box–Muller: two normal values per two uniforms.
      const u = Math.max(rand(), 1e-12);
      const r = Math.sqrt(-2 * Math.log(u));
      const t = 2 * Math.PI * rand();
      x[i] = r * Math.cos(t);
      if (i + 1 < x.length) x[i + 1] = r * Math.sin(t);
    }
    return x;
  }

  inputs(split: Split, indices: ArrayLike<number>): Float32Array {
    const out = new Float32Array(indices.length * this.features);
    for (let i = 0; i < indices.length; i++)
      out.set(this.sample(split, indices[i]!), i * this.features);
    return out;
  }

  labels(split: Split, indices: ArrayLike<number>): Int32Array {
    const out = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) {
      const x = this.sample(split, indices[i]!);
      let best = 0;
      let bestScore = -Infinity;
      for (let c = 0; c < this.numClasses; c++) {
        let s = 0;
        for (let f = 0; f < this.features; f++) s += x[f]! * this.teacher[c * this.features + f]!;
        if (s > bestScore) {
          bestScore = s;
          best = c;
        }
      }
      out[i] = best;
    }
    return out;
  }
}
