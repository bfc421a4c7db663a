import crypto from 'node:crypto';
import net from 'node:net';

/**
 * A WebSocket client at the frame level, to send what no library would: a header that announces more
 * than the server takes (without sending it), text that is not UTF-8, reserved opcodes. Frames from
 * the server are parsed; a close frame is answered by ending the socket.
 */
export interface RawWebSocket {
  /** Text messages from the server, parsed as JSON. */
  messages: unknown[];
  /** Resolves when the server's close frame (or the socket's end) arrives. */
  closed: Promise<{ code: number | null; reason: string }>;
  /** A frame: FIN set, masked as a client must. `declaredLength` may exceed the payload sent. */
  send(opcode: number, payload: Buffer | string, declaredLength?: number): void;
  /** Waits until `n` messages have arrived (or the socket closed). */
  waitMessages(n: number, timeoutMs?: number): Promise<void>;
  end(): void;
}

export function frame(opcode: number, payload: Buffer, declaredLength = payload.length): Buffer {
  const mask = crypto.randomBytes(4);
  const head =
    declaredLength < 126
      ? Buffer.from([0x80 | opcode, 0x80 | declaredLength])
      : declaredLength < 65536
        ? Buffer.from([0x80 | opcode, 0x80 | 126, declaredLength >> 8, declaredLength & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), u64(declaredLength)]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i % 4]!;
  return Buffer.concat([head, mask, body]);
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

export function connectRaw(port: number, token: string): Promise<RawWebSocket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const key = crypto.randomBytes(16).toString('base64');
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const messages: unknown[] = [];
    const waiters = new Set<() => void>();
    let closeInfo: { code: number | null; reason: string } | null = null;
    let markClosed: (c: { code: number | null; reason: string }) => void = () => {};
    const closed = new Promise<{ code: number | null; reason: string }>((r) => (markClosed = r));
    const onClose = (c: { code: number | null; reason: string }) => {
      if (closeInfo) return;
      closeInfo = c;
      markClosed(c);
      for (const w of waiters) w();
    };
    sock.on('error', (err) =>
      upgraded ? onClose({ code: null, reason: err.message }) : reject(err),
    );
    sock.on('close', () => onClose({ code: null, reason: 'socket closed without a close frame' }));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        buf = buf.subarray(end + 4);
        if (!/^HTTP\/1\.1 101 /.test(head)) {
          sock.destroy();
          reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
          return;
        }
        upgraded = true;
        resolve(api);
      }
      // Server frames are unmasked.
      for (;;) {
        if (buf.length < 2) return;
        const opcode = buf[0]! & 0x0f;
        let len = buf[1]! & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len) return;
        const payload = buf.subarray(off, off + len);
        buf = buf.subarray(off + len);
        if (opcode === 0x1) {
          messages.push(JSON.parse(payload.toString()));
          for (const w of waiters) w();
        } else if (opcode === 0x8) {
          onClose({
            code: payload.length >= 2 ? payload.readUInt16BE(0) : null,
            reason: payload.subarray(2).toString(),
          });
          sock.end();
        }
      }
    });
    const api: RawWebSocket = {
      messages,
      closed,
      send(opcode, payload, declaredLength) {
        const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
        if (!sock.destroyed && sock.writable) sock.write(frame(opcode, p, declaredLength));
      },
      waitMessages(n, timeoutMs = 10_000) {
        return new Promise((res, rej) => {
          const check = () => {
            if (messages.length >= n || closeInfo) {
              waiters.delete(check);
              clearTimeout(timer);
              res();
            }
          };
          const timer = setTimeout(() => {
            waiters.delete(check);
            rej(new Error(`${messages.length} of ${n} messages after ${timeoutMs} ms`));
          }, timeoutMs);
          waiters.add(check);
          check();
        });
      },
      end() {
        sock.end();
      },
    };
    sock.write(
      `GET /api?token=${token} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
        `Origin: http://127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
}
