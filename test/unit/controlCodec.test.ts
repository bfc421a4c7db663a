import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseControlRequest } from '../../native/protocol/controlCodec.js';
import { MAX_CONTROL_MESSAGE_BYTES } from '../../native/protocol/limits.js';
import { ControlReplySchema, HelloResultSchema } from '../../native/protocol/controlSchemas.js';
import { TelemetrySampleSchema } from '../../native/protocol/inventorySchemas.js';
import { ControlType, ErrorCode, PROTOCOL_VERSION } from '../../native/protocol/version.js';

const enc = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

describe('control request parsing', () => {
  it('accepts each request type', () => {
    for (const req of [
      { v: PROTOCOL_VERSION, id: '1', type: ControlType.Hello },
      { v: PROTOCOL_VERSION, id: '2', type: ControlType.Ping, sentAt: 5 },
      { v: PROTOCOL_VERSION, id: '3', type: ControlType.Inventory },
      { v: PROTOCOL_VERSION, id: '4', type: ControlType.Benchmark, force: true },
      {
        v: PROTOCOL_VERSION,
        id: '5',
        type: ControlType.Join,
        publicKey: 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7',
      },
    ]) {
      const r = parseControlRequest(enc(req));
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.request.type, req.type);
    }
  });

  it('defaults benchmark.force to false', () => {
    const r = parseControlRequest(
      enc({ v: PROTOCOL_VERSION, id: '1', type: ControlType.Benchmark }),
    );
    assert.ok(r.ok && r.request.type === ControlType.Benchmark && r.request.force === false);
  });

  const cases: [string, unknown, ErrorCode, RegExp][] = [
    ['not JSON', '{nope', ErrorCode.Malformed, /not valid JSON/],
    ['a JSON array', [1, 2], ErrorCode.Malformed, /JSON object/],
    ['null', 'null', ErrorCode.Malformed, /JSON object/],
    [
      'another version',
      { v: 99, id: 'x', type: 'ping', sentAt: 1 },
      ErrorCode.UnsupportedVersion,
      /version 99 is not supported/,
    ],
    ['no version', { id: 'x', type: 'ping' }, ErrorCode.UnsupportedVersion, /version undefined/],
    [
      'an unknown type',
      { v: PROTOCOL_VERSION, id: 'x', type: 'rm-rf' },
      ErrorCode.UnknownType,
      /unknown message type "rm-rf"/,
    ],
    [
      'a missing field',
      { v: PROTOCOL_VERSION, id: 'x', type: 'ping' },
      ErrorCode.InvalidPayload,
      /invalid ping: sentAt/,
    ],
    [
      'a wrong field type',
      { v: PROTOCOL_VERSION, id: 'x', type: 'ping', sentAt: 'now' },
      ErrorCode.InvalidPayload,
      /sentAt/,
    ],
    [
      'an extra field',
      { v: PROTOCOL_VERSION, id: 'x', type: 'hello', extra: 1 },
      ErrorCode.InvalidPayload,
      /invalid hello/,
    ],
    [
      'a bad join key',
      { v: PROTOCOL_VERSION, id: 'x', type: 'join', publicKey: 'abc' },
      ErrorCode.InvalidPayload,
      /publicKey/,
    ],
    ['an empty id', { v: PROTOCOL_VERSION, id: '', type: 'hello' }, ErrorCode.InvalidPayload, /id/],
  ];
  for (const [what, input, code, message] of cases) {
    it(`rejects ${what} with ${code}`, () => {
      const r = parseControlRequest(enc(input));
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.code, code);
      assert.match(r.message, message);
    });
  }

  it('echoes the id of a rejected request when it can', () => {
    const r = parseControlRequest(enc({ v: 7, id: 'abc', type: 'ping' }));
    assert.ok(!r.ok && r.id === 'abc');
  });

  it('rejects an oversized frame before parsing it', () => {
    const r = parseControlRequest(Buffer.alloc(MAX_CONTROL_MESSAGE_BYTES + 1, 0x20));
    assert.ok(!r.ok && r.code === ErrorCode.Malformed && /exceeds/.test(r.message));
  });
});

describe('reply and telemetry schemas', () => {
  it('accepts ok and error replies and rejects others', () => {
    assert.ok(ControlReplySchema.safeParse({ v: 1, id: '1', ok: true, result: {} }).success);
    assert.ok(
      ControlReplySchema.safeParse({
        v: 1,
        id: null,
        ok: false,
        error: { code: 'malformed', message: 'x' },
      }).success,
    );
    assert.ok(
      !ControlReplySchema.safeParse({
        v: 1,
        id: '1',
        ok: false,
        error: { code: 'nope', message: 'x' },
      }).success,
    );
    assert.ok(!ControlReplySchema.safeParse({ v: 1, id: '1' }).success);
  });

  it('validates hello results', () => {
    const hello = {
      protocolVersion: 1,
      nodeId: 'n',
      name: 'ws',
      cluster: 'default',
      capabilities: ['inventory'],
      telemetryPort: 5,
      agentVersion: '0.1.0',
    };
    assert.ok(HelloResultSchema.safeParse(hello).success);
    assert.ok(!HelloResultSchema.safeParse({ ...hello, capabilities: ['teleport'] }).success);
  });

  it('keeps unknown GPU figures as null and bounds cpu load', () => {
    const s = {
      nodeId: 'n',
      seq: 0,
      time: 1,
      cpuLoad: 0.5,
      memAvailableBytes: 1,
      memTotalBytes: 2,
      gpus: [
        {
          index: 0,
          utilizationPct: null,
          memUsedBytes: 0,
          memTotalBytes: null,
          temperatureC: null,
          powerW: null,
          powerLimitW: null,
        },
      ],
      gpuNote: null,
    };
    assert.ok(TelemetrySampleSchema.safeParse(s).success);
    assert.ok(!TelemetrySampleSchema.safeParse({ ...s, cpuLoad: 1.5 }).success);
  });
});
