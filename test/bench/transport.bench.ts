// npm run bench:transport
// Moves 4 KiB, 1 MiB and 16 MiB float32 tensors from one process to another the way stages do (CURVE
// ZeroMQ, header frame + raw bytes, decoded on arrival), next to a plain TCP socket on loopback sending
// the same bytes, measured in the same run. Throughput: a stream of N tensors, acked at the end.
// Latency: one tensor, wait for a 1-byte ack, repeated. Goal: ZeroMQ ≥ 80% of TCP for 1 MiB and up.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import * as zmq from 'zeromq';
import { encodeTensor, MAX_TENSOR_BYTES } from '../../native/protocol/tensorFrame.js';
import { PROTOCOL_VERSION } from '../../native/protocol/version.js';

const sizes = [
  { label: '4 KiB', bytes: 4096, stream: 20000, pings: 2000 },
  { label: '1 MiB', bytes: 1 << 20, stream: 400, pings: 200 },
  { label: '16 MiB', bytes: 16 << 20, stream: 40, pings: 20 },
];
const peerScript = path.join(import.meta.dirname, 'transportPeer.ts');

function startPeer(args: string[]): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', peerScript, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve) =>
    readline
      .createInterface({ input: child.stdout! })
      .once('line', (address) => resolve({ child, address })),
  );
}

async function benchZmq(bytes: number, stream: number, pings: number, curve = true) {
  const server = zmq.curveKeyPair();
  const client = zmq.curveKeyPair();
  const peer = await startPeer([curve ? 'zmq' : 'zmq-plain', server.secretKey, client.publicKey]);
  const d = new zmq.Dealer({
    ...(curve
      ? {
          curveServerKey: server.publicKey,
          curvePublicKey: client.publicKey,
          curveSecretKey: client.secretKey,
        }
      : {}),
    maxMessageSize: MAX_TENSOR_BYTES + 65536,
    sendHighWaterMark: 16,
    linger: 0,
  });
  d.connect(peer.address);
  const data = new Float32Array(bytes / 4).fill(1.5);
  const frames = (ack: boolean) =>
    encodeTensor(
      {
        v: PROTOCOL_VERSION,
        kind: 'act' as never,
        step: 0,
        mb: ack ? 1 : 0,
        dtype: 'float32',
        shape: [bytes / 4],
      },
      data,
    );
  await d.send('hello');
  await d.receive();
  // Warm-up, then a stream acked at the end.
  for (let i = 0; i < 3; i++) await d.send(frames(false));
  let t0 = performance.now();
  for (let i = 0; i < stream - 1; i++) await d.send(frames(false));
  await d.send(frames(true));
  await d.receive();
  const seconds = (performance.now() - t0) / 1000;
  const lat: number[] = [];
  for (let i = 0; i < pings; i++) {
    t0 = performance.now();
    await d.send(frames(true));
    await d.receive();
    lat.push(performance.now() - t0);
  }
  d.close();
  peer.child.kill();
  return { mbps: (bytes * stream) / seconds / 1e6, latency: median(lat) };
}

async function benchTcp(bytes: number, stream: number, pings: number) {
  const peer = await startPeer(['tcp']);
  const sock = net.connect(Number(peer.address), '127.0.0.1');
  sock.setNoDelay(true);
  await new Promise((r) => sock.once('connect', r));
  const payload = Buffer.alloc(bytes, 7);
  const header = (ack: boolean) => {
    const h = Buffer.alloc(5);
    h.writeUInt32LE(bytes, 0);
    h.writeUInt8(ack ? 1 : 0, 4);
    return h;
  };
  const acks: (() => void)[] = [];
  sock.on('data', (d: Buffer) => {
    for (let i = 0; i < d.length; i++) acks.shift()?.();
  });
  const send = (ack: boolean) =>
    new Promise<void>((resolve) => {
      sock.write(header(ack));
      if (!sock.write(payload)) sock.once('drain', resolve);
      else resolve();
    });
  const acked = () => new Promise<void>((r) => acks.push(r));
  for (let i = 0; i < 3; i++) await send(false);
  let t0 = performance.now();
  for (let i = 0; i < stream - 1; i++) await send(false);
  const done = acked();
  await send(true);
  await done;
  const seconds = (performance.now() - t0) / 1000;
  const lat: number[] = [];
  for (let i = 0; i < pings; i++) {
    t0 = performance.now();
    const a = acked();
    await send(true);
    await a;
    lat.push(performance.now() - t0);
  }
  sock.destroy();
  peer.child.kill();
  return { mbps: (bytes * stream) / seconds / 1e6, latency: median(lat) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

console.log(
  'bench:transport: one process to another on loopback; ZeroMQ = CURVE-encrypted DEALER→ROUTER with tensor frames, TCP = plain socket',
);
console.log(
  'size     ZeroMQ MB/s   TCP MB/s   ratio   ZeroMQ RTT   TCP RTT   (unencrypted ZeroMQ for reference)',
);
for (const s of sizes) {
  const z = await benchZmq(s.bytes, s.stream, s.pings);
  const plain = await benchZmq(s.bytes, s.stream, s.pings, false);
  const t = await benchTcp(s.bytes, s.stream, s.pings);
  const ratio = z.mbps / t.mbps;
  console.log(
    `${s.label.padEnd(8)} ${z.mbps.toFixed(0).padStart(11)}   ${t.mbps.toFixed(0).padStart(8)}   ${(ratio * 100).toFixed(0).padStart(4)}%   ${z.latency.toFixed(3).padStart(8)} ms   ${t.latency.toFixed(3).padStart(6)} ms   (${plain.mbps.toFixed(0)} MB/s, ${((plain.mbps / t.mbps) * 100).toFixed(0)}%)${s.bytes >= 1 << 20 ? `   goal ≥ 80%: ${ratio >= 0.8 ? 'met' : 'NOT met'}` : ''}`,
  );
}
process.exit(0);
