import fs from 'node:fs';

/**
 * The IDX format (LeCun's MNIST files and others): magic 0x0000 <dtype> <ndims>, then one big-endian
 * u32 size per dimension, then the data, big-endian, row-major.
 */
export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

const DTYPES: Record<number, { name: IdxDtype; bytes: number }> = {
  0x08: { name: 'uint8', bytes: 1 },
  0x09: { name: 'int8', bytes: 1 },
  0x0b: { name: 'int16', bytes: 2 },
  0x0c: { name: 'int32', bytes: 4 },
  0x0d: { name: 'float32', bytes: 4 },
  0x0e: { name: 'float64', bytes: 8 },
};

export interface IdxArray {
  dtype: IdxDtype;
  shape: number[];
  /** Values in row-major order; uint8 data stays a Uint8Array (no copy), others are converted. */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

export class IdxError extends Error {}

export function parseIdx(buf: Uint8Array, what = 'IDX data'): IdxArray {
  if (buf.byteLength < 4)
    throw new IdxError(`${what}: ${buf.byteLength} bytes is too short for an IDX header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint16(0) !== 0)
    throw new IdxError(`${what}: not an IDX file (magic must start with two zero bytes)`);
  const dt = DTYPES[view.getUint8(2)];
  if (!dt) throw new IdxError(`${what}: unknown IDX data type 0x${view.getUint8(2).toString(16)}`);
  const ndims = view.getUint8(3);
  const headerBytes = 4 + 4 * ndims;
  if (ndims === 0 || buf.byteLength < headerBytes)
    throw new IdxError(`${what}: truncated header (${ndims} dimensions)`);
  const shape = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * dt.bytes;
  if (buf.byteLength !== expected) {
    throw new IdxError(
      `${what}: shape [${shape.join(', ')}] of ${dt.name} needs ${expected} bytes, file has ${buf.byteLength}`,
    );
  }
  const body = buf.subarray(headerBytes);
  let data: IdxArray['data'];
  switch (dt.name) {
    case 'uint8':
      data = body;
      break;
    case 'int8':
      data = new Int8Array(body.buffer, body.byteOffset, count);
      break;
    default: {
      const out =
        dt.name === 'int16'
          ? new Int16Array(count)
          : dt.name === 'int32'
            ? new Int32Array(count)
            : dt.name === 'float32'
              ? new Float32Array(count)
              : new Float64Array(count);
      const bv = new DataView(body.buffer, body.byteOffset, body.byteLength);
      for (let i = 0; i < count; i++) {
        const at = i * dt.bytes;
        out[i] =
          dt.name === 'int16'
            ? bv.getInt16(at)
            : dt.name === 'int32'
              ? bv.getInt32(at)
              : dt.name === 'float32'
                ? bv.getFloat32(at)
                : bv.getFloat64(at);
      }
      data = out;
    }
  }
  return { dtype: dt.name, shape, data };
}

export function readIdxFile(file: string): IdxArray {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    throw new IdxError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    );
  }
  return parseIdx(buf, file);
}

/** Encodes an array as IDX (for tests and for exporting data in the same format). */
export function encodeIdx(dtype: IdxDtype, shape: number[], values: ArrayLike<number>): Buffer {
  const code = Number(Object.entries(DTYPES).find(([, d]) => d.name === dtype)![0]);
  const bytes = DTYPES[code]!.bytes;
  const buf = Buffer.alloc(4 + 4 * shape.length + values.length * bytes);
  buf.writeUInt8(code, 2);
  buf.writeUInt8(shape.length, 3);
  shape.forEach((s, i) => buf.writeUInt32BE(s, 4 + 4 * i));
  const at0 = 4 + 4 * shape.length;
  for (let i = 0; i < values.length; i++) {
    const at = at0 + i * bytes;
    const v = values[i]!;
    if (dtype === 'uint8') buf.writeUInt8(v, at);
    else if (dtype === 'int8') buf.writeInt8(v, at);
    else if (dtype === 'int16') buf.writeInt16BE(v, at);
    else if (dtype === 'int32') buf.writeInt32BE(v, at);
    else if (dtype === 'float32') buf.writeFloatBE(v, at);
    else buf.writeDoubleBE(v, at);
  }
  return buf;
}
