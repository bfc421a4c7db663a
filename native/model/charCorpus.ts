import { mulberry32 } from '../util/random.js';
/**
 * The training text of the character-level language model, generated rather than shipped: a seeded
 * toy grammar over a small vocabulary. It has real structure (words, agreement-free sentences,
 * punctuation) for a GRU to learn, costs no download, and is byte-identical on every machine, so
 * the first and last pipeline stages can each derive inputs and next-character labels locally.
 */
export const CHAR_VOCAB = ' abcdefghijklmnopqrstuvwxyz.,\n';
export const CHAR_VOCAB_SIZE = CHAR_VOCAB.length;

const SUBJECTS = [
  'the lab',
  'a worker',
  'each machine',
  'the model',
  'our stage',
  'the agent',
  'a gradient',
];
const VERBS = ['sends', 'trains', 'waits for', 'computes', 'receives', 'measures', 'splits'];
const OBJECTS = [
  'the batch',
  'a tensor',
  'the weights',
  'its layers',
  'the next stage',
  'many samples',
  'a plan',
];
const TAILS = ['', ' quickly', ' again', ' over the network', ' in order', ' before the step'];

/** About `length` characters of text (exactly `length`), the same for the same seed everywhere. */
export function generateCorpus(length = 65_536, seed = 7): string {
  const rand = mulberry32(seed);
  const pick = (words: string[]) => words[Math.floor(rand() * words.length)]!;
  const parts: string[] = [];
  let size = 0;
  while (size < length) {
    const joiner = rand() < 0.3 ? ', and ' : '';
    const clause = `${pick(SUBJECTS)} ${pick(VERBS)} ${pick(OBJECTS)}${pick(TAILS)}`;
    const sentence = joiner
      ? `${clause}${joiner}${pick(SUBJECTS)} ${pick(VERBS)} ${pick(OBJECTS)}`
      : clause;
    const piece = sentence + (rand() < 0.2 ? '.\n' : '. ');
    parts.push(piece);
    size += piece.length;
  }
  return parts.join('').slice(0, length);
}

/** Character ids for a text; every character of a generated corpus is in the vocabulary. */
export function encodeChars(text: string): Int32Array {
  const out = new Int32Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const id = CHAR_VOCAB.indexOf(text[i]!);
    if (id < 0) throw new Error(`character ${JSON.stringify(text[i])} is not in the vocabulary`);
    out[i] = id;
  }
  return out;
}

export function decodeChars(ids: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < ids.length; i++) s += CHAR_VOCAB[ids[i]!] ?? '?';
  return s;
}
