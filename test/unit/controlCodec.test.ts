import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseControlRequest } from '../../native/protocol/controlCodec.js';
import { MAX_CONTROL_MESSAGE_BYTES, MAX_LINK_ECHO_CHARS } from '../../native/protocol/limits.js';
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

describe('link requests', () => {
  const echo = (data: unknown) =>
    parseControlRequest(enc({ v: PROTOCOL_VERSION, id: 'e', type: ControlType.LinkEcho, data }));
  const peer = {
    host: '10.0.0.2',
    controlPort: 47801,
    publicKey: 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7',
  };
  const measure = (p: unknown) =>
    parseControlRequest(
      enc({ v: PROTOCOL_VERSION, id: 'm', type: ControlType.LinkMeasure, peer: p }),
    );

  it('accepts an echo of base64 up to the limit, and a peer to measure', () => {
    const r = echo('A'.repeat(MAX_LINK_ECHO_CHARS));
    assert.ok(r.ok && r.request.type === ControlType.LinkEcho);
    assert.equal(r.request.data.length, MAX_LINK_ECHO_CHARS);
    assert.ok(echo('').ok);
    assert.ok(echo('aGk=').ok);
    const m = measure(peer);
    assert.ok(m.ok && m.request.type === ControlType.LinkMeasure);
    assert.deepEqual(m.request.peer, peer);
  });

  it('refuses an echo over the limit, saying the size and the limit', () => {
    const r = echo('A'.repeat(MAX_LINK_ECHO_CHARS + 4));
    assert.ok(!r.ok);
    assert.equal(r.code, ErrorCode.InvalidPayload);
    assert.equal(r.id, 'e');
    assert.match(
      r.message,
      new RegExp(
        `invalid link\\.echo: data: ${MAX_LINK_ECHO_CHARS + 4} characters, more than the ${MAX_LINK_ECHO_CHARS} a link\\.echo may carry`,
      ),
    );
  });

  const malformed: [string, () => ReturnType<typeof echo>, RegExp][] = [
    [
      'an echo of no data',
      () => parseControlRequest(enc({ v: PROTOCOL_VERSION, id: 'e', type: ControlType.LinkEcho })),
      /data/,
    ],
    ['an echo of a number', () => echo(12), /data/],
    ['an echo that is not base64', () => echo('not base64!'), /data: must be base64/],
    [
      'an echo with more fields',
      () =>
        parseControlRequest(
          enc({ v: PROTOCOL_VERSION, id: 'e', type: ControlType.LinkEcho, data: '', reply: 'x' }),
        ),
      /reply/,
    ],
    [
      'a peer without a key',
      () => measure({ host: '10.0.0.2', controlPort: 47801 }),
      /peer\.publicKey/,
    ],
    ['a peer on port 0', () => measure({ ...peer, controlPort: 0 }), /peer\.controlPort/],
    [
      'a peer whose host would change the endpoint',
      () => measure({ ...peer, host: '10.0.0.2:1;tcp://x' }),
      /peer\.host: must be a host name or an IP address/,
    ],
  ];
  for (const [what, parse, message] of malformed) {
    it(`refuses ${what} in words`, () => {
      const r = parse();
      assert.ok(!r.ok);
      assert.equal(r.code, ErrorCode.InvalidPayload);
      assert.match(r.message, message);
    });
  }
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
