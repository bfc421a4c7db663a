// The receiving end of bench:transport, run as its own process. ZeroMQ mode: a CURVE ROUTER like a
// stage host's, decoding every tensor frame. TCP mode: a plain socket reading length-prefixed bytes.
// Either way it acks each message with one byte (latency runs) or counts and acks every `window`.
import net from 'node:net';
import * as zmq from 'zeromq';
import { decodeTensor, MAX_TENSOR_BYTES } from '../../native/protocol/tensorFrame.js';
import { ZapAuthenticator } from '../../native/trust/zapAuthenticator.js';

const [mode, serverSecret, clientPublic] = process.argv.slice(2);

if (mode === 'zmq' || mode === 'zmq-plain') {
  const curve = mode === 'zmq';
  const zap = await ZapAuthenticator.shared();
  zap.setPolicy('bench', (k) => k === clientPublic);
  const router = new zmq.Router({
    ...(curve ? { curveServer: true, curveSecretKey: serverSecret!, zapDomain: 'bench' } : {}),
    maxMessageSize: MAX_TENSOR_BYTES + 65536,
    receiveHighWaterMark: 16,
    linger: 0,
  });
  await router.bind('tcp://127.0.0.1:*');
  process.stdout.write(`${router.lastEndpoint}\n`);
  for await (const [id, ...frames] of router) {
    if (frames.length === 1) {
      await router.send([id!, 'ack']); // control: "ack now"
      continue;
    }
    const d = decodeTensor(frames);
    if (!d.ok) throw new Error(d.reason);
    if (d.tensor.header.mb === 1) await router.send([id!, 'ack']);
  }
} else {
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    // Each message lands in one buffer of its own size, as a real receiver would hold a tensor.
    let header = Buffer.alloc(0);
    let body: Buffer | null = null;
    let filled = 0;
    let ack = false;
    sock.on('data', (d: Buffer) => {
      let at = 0;
      while (at < d.length) {
        if (!body) {
          const need = 5 - header.length;
          header = Buffer.concat([header, d.subarray(at, at + need)]);
          at += Math.min(need, d.length - at);
          if (header.length < 5) return;
          body = Buffer.allocUnsafe(header.readUInt32LE(0));
          ack = header.readUInt8(4) === 1;
          header = Buffer.alloc(0);
          filled = 0;
        }
        const n = Math.min(body.length - filled, d.length - at);
        d.copy(body, filled, at, at + n);
        filled += n;
        at += n;
        if (filled === body.length) {
          body = null;
          if (ack) sock.write(Buffer.from([1]));
        }
      }
    });
  });
  server.listen(0, '127.0.0.1', () =>
    process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`),
  );
}
