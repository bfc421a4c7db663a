import { CHAR_VOCAB_SIZE, encodeChars, generateCorpus } from '../model/charCorpus.js';
import type { Dataset, Split } from './dataset.js';

/**
 * Next-character prediction over the generated corpus: sample i is the `context` characters from
 * position i, labelled with the character after them. Train and test come from different seeds.
 */
export class TextDataset implements Dataset {
  readonly id = 'text';
  readonly inputDtype = 'int32' as const;
  readonly inputShape: number[];
  readonly numClasses = CHAR_VOCAB_SIZE;
  private readonly ids: Record<Split, Int32Array>;

  constructor(private readonly context = 32) {
    this.inputShape = [context];
    this.ids = {
      train: encodeChars(generateCorpus(65_536, 7)),
      test: encodeChars(generateCorpus(8_192, 8)),
    };
  }

  size(split: Split): number {
    return this.ids[split].length - this.context;
  }

  inputs(split: Split, indices: ArrayLike<number>): Int32Array {
    const out = new Int32Array(indices.length * this.context);
    const ids = this.ids[split];
    for (let i = 0; i < indices.length; i++)
      out.set(ids.subarray(indices[i]!, indices[i]! + this.context), i * this.context);
    return out;
  }

  labels(split: Split, indices: ArrayLike<number>): Int32Array {
    const ids = this.ids[split];
    return Int32Array.from({ length: indices.length }, (_, i) => ids[indices[i]! + this.context]!);
  }
}
