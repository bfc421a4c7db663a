import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * One stage's state at a step boundary: its weights, its optimizer's state and the step the run goes
 * on from (the sampler is a function of the step and the run's seed, so the step is its position).
 *
 * On disk: a magic line, one JSON header line (what the tensors are, how many bytes follow, their
 * SHA-256), then the tensors' float32 bytes back to back. A checkpoint is written to a temporary
 * file, fsynced and renamed into place, so a crash leaves the previous one or the new one whole; a
 * file that was cut short or changed after all is refused with the reason, never half used.
 */
const MAGIC = 'PIPEFITTER-CHECKPOINT 1\n';
/** A header is a few KiB for the catalogue; anything near this is not ours. */
const MAX_HEADER_BYTES = 4 * 1024 * 1024;

const TensorEntrySchema = z.object({
  name: z.string().max(512),
  shape: z.array(z.number().int().nonnegative()).max(8),
});

const HeaderSchema = z.object({
  runId: z.string().max(128),
  stage: z.number().int().nonnegative(),
  /** Steps done: the run goes on from this step. */
  step: z.number().int().nonnegative(),
  optimizer: z.string().max(64),
  weights: z.array(TensorEntrySchema),
  optimizerState: z.array(TensorEntrySchema),
  /**
   * An interleaved stage's chunks, chunk 0 first: how many of the weights and of the optimizer's
   * variables each holds (so the run can put them in model order); absent: one chunk.
   */
  chunks: z
    .array(
      z.object({
        weights: z.number().int().nonnegative(),
        variables: z.number().int().nonnegative(),
      }),
    )
    .max(64)
    .optional(),
  payloadBytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type CheckpointHeader = z.infer<typeof HeaderSchema>;

export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface StageState {
  runId: string;
  stage: number;
  step: number;
  optimizer: string;
  weights: NamedArray[];
  optimizerState: NamedArray[];
  /** An interleaved stage's chunk layout (see the header's `chunks`); absent: one chunk. */
  chunks?: { weights: number; variables: number }[];
}

/** A checkpoint that cannot be used, with the reason in words. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

const elements = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** The file's bytes for a stage's state. */
export function encodeCheckpoint(state: StageState): Buffer {
  return encodeWithChecksum(state).bytes;
}

/** The file's bytes and the payload's SHA-256 (what the header records). */
function encodeWithChecksum(state: StageState): { bytes: Buffer; sha256: string } {
  const tensors = [...state.weights, ...state.optimizerState];
  for (const t of tensors)
    if (t.data.length !== elements(t.shape))
      throw new Error(`${t.name}: ${t.data.length} values for shape [${t.shape.join(', ')}]`);
  const payload = Buffer.concat(
    tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
  );
  const header: CheckpointHeader = {
    runId: state.runId,
    stage: state.stage,
    step: state.step,
    optimizer: state.optimizer,
    weights: state.weights.map(({ name, shape }) => ({ name, shape })),
    optimizerState: state.optimizerState.map(({ name, shape }) => ({ name, shape })),
    ...(state.chunks ? { chunks: state.chunks } : {}),
    payloadBytes: payload.byteLength,
    sha256: crypto.createHash('sha256').update(payload).digest('hex'),
  };
  const bytes = Buffer.concat([
    Buffer.from(MAGIC),
    Buffer.from(JSON.stringify(header) + '\n'),
    payload,
  ]);
  return { bytes, sha256: header.sha256 };
}

/** A stage's state from a file's bytes; a torn, altered or foreign file is a CheckpointError. */
export function decodeCheckpoint(
  bytes: Buffer,
  what = 'the checkpoint',
): StageState & {
  sha256: string;
} {
  if (bytes.length < MAGIC.length || bytes.subarray(0, MAGIC.length).toString() !== MAGIC)
    throw new CheckpointError(`${what} is not a Pipefitter checkpoint (no header)`);
  const end = bytes.indexOf(0x0a, MAGIC.length);
  if (end < 0 || end - MAGIC.length > MAX_HEADER_BYTES)
    throw new CheckpointError(`${what} is torn: its header ends early`);
  let header: CheckpointHeader;
  try {
    header = HeaderSchema.parse(JSON.parse(bytes.subarray(MAGIC.length, end).toString('utf8')));
  } catch (err) {
    throw new CheckpointError(`${what} has an unreadable header: ${(err as Error).message}`);
  }
  const payload = bytes.subarray(end + 1);
  if (payload.length !== header.payloadBytes)
    throw new CheckpointError(
      `${what} is torn: ${payload.length} of ${header.payloadBytes} tensor bytes are there`,
    );
  const sha = crypto.createHash('sha256').update(payload).digest('hex');
  if (sha !== header.sha256)
    throw new CheckpointError(`${what} was changed after it was written (SHA-256 mismatch)`);
  const entries = [...header.weights, ...header.optimizerState];
  const expected = entries.reduce((n, e) => n + elements(e.shape) * 4, 0);
  if (expected !== payload.length)
    throw new CheckpointError(
      `${what} is inconsistent: its shapes need ${expected} bytes, it has ${payload.length}`,
    );
  // One aligned copy, then views into it.
  const all = new Float32Array(payload.length / 4);
  new Uint8Array(all.buffer).set(payload);
  let at = 0;
  const read = (e: z.infer<typeof TensorEntrySchema>): NamedArray => {
    const n = elements(e.shape);
    const data = all.subarray(at, at + n);
    at += n;
    return { name: e.name, shape: e.shape, data };
  };
  const weights = header.weights.map(read);
  const optimizerState = header.optimizerState.map(read);
  return {
    runId: header.runId,
    stage: header.stage,
    step: header.step,
    optimizer: header.optimizer,
    weights,
    optimizerState,
    ...(header.chunks ? { chunks: header.chunks } : {}),
    sha256: header.sha256,
  };
}

/** Where stage k keeps its checkpoint of step s under a run's checkpoint folder. */
export function checkpointPath(dir: string, stage: number, step: number): string {
  return path.join(dir, `stage-${stage}-step-${step}.ckpt`);
}

/** The steps stage k has a checkpoint of in a run's checkpoint folder, newest first. */
export function checkpointSteps(dir: string, stage: number): number[] {
  const prefix = `stage-${stage}-step-`;
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.ckpt'))
    .map((f) => Number(f.slice(prefix.length, -'.ckpt'.length)))
    .filter(Number.isInteger)
    .sort((a, b) => b - a);
}

/**
 * Writes a checkpoint so that a crash at any moment leaves the previous file or this one, whole:
 * temporary file, fsync, rename, fsync of the folder. Returns its size and the payload's SHA-256.
 */
export async function writeCheckpoint(
  file: string,
  state: StageState,
): Promise<{ bytes: number; sha256: string }> {
  const { bytes: data, sha256 } = encodeWithChecksum(state);
  await fs.promises.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await fs.promises.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
  const dir = await fs.promises.open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return { bytes: data.length, sha256 };
}

/**
 * Reads a stage's checkpoint; `sha256`, when given, must match the one the run recorded (a file
 * replaced by another whole checkpoint is refused too).
 */
export function readCheckpoint(file: string, sha256?: string): StageState {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new CheckpointError(`cannot read checkpoint ${file}: ${(err as Error).message}`);
  }
  const state = decodeCheckpoint(bytes, `checkpoint ${path.basename(file)}`);
  if (sha256 !== undefined && state.sha256 !== sha256)
    throw new CheckpointError(
      `checkpoint ${path.basename(file)} is not the one the run recorded (SHA-256 ${state.sha256.slice(0, 12)}…, expected ${sha256.slice(0, 12)}…)`,
    );
  return state;
}
