import { ControlRequestSchema, type ControlReply, type ControlRequest } from './controlSchemas.js';
import { MAX_CONTROL_MESSAGE_BYTES } from './limits.js';
import { ControlType, ErrorCode, PROTOCOL_VERSION } from './version.js';

export type ParsedRequest =
  | { ok: true; request: ControlRequest }
  | { ok: false; id: string | null; code: ErrorCode; message: string };

const knownTypes = new Set<string>(Object.values(ControlType));

/** Decodes one control frame. Never throws: every failure becomes a named error the agent can answer with. */
export function parseControlRequest(frame: Uint8Array): ParsedRequest {
  if (frame.byteLength > MAX_CONTROL_MESSAGE_BYTES) {
    return {
      ok: false,
      id: null,
      code: ErrorCode.Malformed,
      message: `message of ${frame.byteLength} bytes exceeds ${MAX_CONTROL_MESSAGE_BYTES}`,
    };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(
      Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString('utf8'),
    );
  } catch {
    return { ok: false, id: null, code: ErrorCode.Malformed, message: 'frame is not valid JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return {
      ok: false,
      id: null,
      code: ErrorCode.Malformed,
      message: 'message must be a JSON object',
    };
  }
  const obj = raw as Record<string, unknown>;
  const id = typeof obj.id === 'string' && obj.id.length <= 64 ? obj.id : null;
  if (obj.v !== PROTOCOL_VERSION) {
    return {
      ok: false,
      id,
      code: ErrorCode.UnsupportedVersion,
      message: `protocol version ${String(obj.v)} is not supported (this agent speaks ${PROTOCOL_VERSION})`,
    };
  }
  if (typeof obj.type !== 'string' || !knownTypes.has(obj.type)) {
    return {
      ok: false,
      id,
      code: ErrorCode.UnknownType,
      message: `unknown message type ${JSON.stringify(obj.type)}`,
    };
  }
  const parsed = ControlRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first?.path.length ? first.path.join('.') : 'message';
    return {
      ok: false,
      id,
      code: ErrorCode.InvalidPayload,
      message: `invalid ${obj.type}: ${where}: ${first?.message ?? 'invalid'}`,
    };
  }
  return { ok: true, request: parsed.data };
}

export function encodeReply(reply: ControlReply): Buffer {
  return Buffer.from(JSON.stringify(reply));
}

export function okReply(id: string, result: unknown): ControlReply {
  return { v: PROTOCOL_VERSION, id, ok: true, result };
}

export function errorReply(id: string | null, code: ErrorCode, message: string): ControlReply {
  return { v: PROTOCOL_VERSION, id, ok: false, error: { code, message } };
}
