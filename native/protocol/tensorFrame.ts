import { z } from 'zod';
import { DtypeSchema, TensorKindSchema } from '../common/schemas.js';
import { PROTOCOL_VERSION } from './version.js';

/** Largest tensor a data-plane message may carry (and the data sockets' maxMessageSize). */
export const MAX_TENSOR_BYTES = 512 * 1024 * 1024;
const MAX_DIMS = 8;

const HeaderSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    kind: TensorKindSchema,
    step: z.number().int().nonnegative(),
    mb: z.number().int().nonnegative(),
    /**
     * The rest of the tensor's address (plan v2: stage, chunk, replica, micro-batch; the stage is the
     * socket it arrives on): the receiver's chunk that takes it (an interleaved stage holds several)
     * and the sender's replica; absent means 0 (one of each).
     */
    chunk: z.number().int().nonnegative().max(1023).optional(),
    replica: z.number().int().nonnegative().max(1023).optional(),
    dtype: DtypeSchema,
    shape: z.array(z.number().int().nonnegative()).max(MAX_DIMS),
  })
  .strict();
export type TensorHeader = z.infer<typeof HeaderSchema>;

export interface DecodedTensor {
  header: TensorHeader;
  data: Float32Array | Int32Array;
}

/**
 * A tensor on the wire: a small JSON header frame, then the raw little-endian bytes as one frame.
 * Never JSON for the numbers; the receiver views the bytes in place where they are aligned.
 */
export function encodeTensor(
  header: TensorHeader,
  data: Float32Array | Int32Array,
): [Buffer, Buffer] {
  return [
    Buffer.from(JSON.stringify(header)),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength),
  ];
}

export function decodeTensor(
  frames: Buffer[],
): { ok: true; tensor: DecodedTensor } | { ok: false; reason: string } {
  if (frames.length !== 2)
    return { ok: false, reason: `expected a header and a data frame, got ${frames.length} frames` };
  const [head, body] = frames as [Buffer, Buffer];
  if (head.length > 4096) return { ok: false, reason: 'tensor header longer than 4 KiB' };
  let raw: unknown;
  try {
    raw = JSON.parse(head.toString('utf8'));
  } catch {
    return { ok: false, reason: 'tensor header is not JSON' };
  }
  const parsed = HeaderSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    return {
      ok: false,
      reason: `invalid tensor header: ${i?.path.join('.') || 'header'}: ${i?.message ?? ''}`,
    };
  }
  const h = parsed.data;
  const count = h.shape.reduce((a, b) => a * b, 1);
  if (count * 4 !== body.length) {
    return {
      ok: false,
      reason: `shape [${h.shape.join(', ')}] needs ${count * 4} bytes, frame has ${body.length}`,
    };
  }
  if (body.length > MAX_TENSOR_BYTES)
    return { ok: false, reason: `tensor of ${body.length} bytes exceeds ${MAX_TENSOR_BYTES}` };
  // Typed arrays need 4-byte alignment; ZeroMQ buffers usually are, else copy once.
  const aligned = body.byteOffset % 4 === 0 ? body : Buffer.from(body);
  const data =
    h.dtype === 'float32'
      ? new Float32Array(aligned.buffer, aligned.byteOffset, count)
      : new Int32Array(aligned.buffer, aligned.byteOffset, count);
  return { ok: true, tensor: { header: h, data } };
}
