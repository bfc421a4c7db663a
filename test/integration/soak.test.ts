import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';
import * as zmq from 'zeromq';
import { StageLink } from '../../native/coordinator/stageLink.js';
import { getModel } from '../../native/model/catalogue.js';
import {
  MAX_CONTROL_MESSAGE_BYTES,
  MAX_TELEMETRY_MESSAGE_BYTES,
} from '../../native/protocol/limits.js';
import { PROTOCOL_VERSION, TelemetryTopic } from '../../native/protocol/version.js';
import { loadOrCreateKeyPair, type CurveKeyPair } from '../../native/trust/keyPair.js';
import { labKeyPair } from '../../native/trust/token.js';
import {
  startAgent,
  stopAgent,
  testBeaconPort,
  TEST_TOKEN,
  type RunningAgent,
} from '../helpers/agents.js';
import { fdCount, rssBytes } from '../helpers/procSockets.js';
import { rawDealer, requestJson } from '../helpers/rawControl.js';
import { processAlive } from '../helpers/training.js';
import { startWeb, type RunningWeb } from '../helpers/web.js';

/**
 * The soak: for 30 s, every socket a peer can reach gets random frames as fast as this process can
 * make them, from a peer that holds the lab key (authenticated but hostile) and from strangers. The
 * targets' resident memory at the end must be within 20% of what it was after a warm-up, and each must
 * still answer a real request. Loopback only; every flooder is bounded in count and in time.
 */
const SOAK_MS = 30_000;
/** Buffers, caches and heaps grow to their working size in the first seconds of load. */
const WARMUP_MS = 5_000;

/** Seeded choices (reproducible mixes) over a pool of random bytes (cheap payloads). */
let seed = 0x5eed;
const rand = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
const randInt = (n: number) => Math.floor(rand() * n);
const POOL = crypto.randomBytes(4 << 20);
const junk = (max: number) => {
  const n = randInt(max + 1);
  const at = randInt(POOL.length - n);
  return POOL.subarray(at, at + n);
};
const multipart = () => Array.from({ length: 2 + randInt(5) }, () => junk(512));

/** Valid JSON of every wrong shape a parser or a schema might trip over. */
function wrongJson(i: number): string {
  const shapes: (() => unknown)[] = [
    () => ({ v: PROTOCOL_VERSION, id: String(i), type: 'ping', sentAt: 'yesterday' }),
    () => ({
      v: PROTOCOL_VERSION,
      id: String(i),
      type: 'stage.spawn',
      runId: '../../etc',
      stageIndex: -1,
    }),
    () => ({ v: PROTOCOL_VERSION, id: String(i), type: 'stage.stop', runId: 'x'.repeat(65) }),
    () => ({ v: PROTOCOL_VERSION, id: String(i), type: 'inventory', junk: [1, 2, 3] }),
    () => ({ v: PROTOCOL_VERSION, id: 'y'.repeat(10_000), type: 'hello' }),
    () => ({ v: PROTOCOL_VERSION, id: String(i), type: `type-${i}` }),
    () => ({ __proto__: { polluted: true }, constructor: { prototype: { x: 1 } }, v: 1 }),
    () => JSON.parse('['.repeat(500) + ']'.repeat(500)) as unknown,
    () => ({ v: 1e308, id: null, type: ['ping'], sentAt: -0 }),
    () => ({ t: 'call', id: i, op: 'listNodes', req: { evil: 'x'.repeat(randInt(50_000)) } }),
    () => 'a string',
    () => null,
    () => Array.from({ length: 1000 }, (_, k) => k),
  ];
  return JSON.stringify(shapes[randInt(shapes.length)]!());
}

interface Tally {
  sent: number;
  answered: number;
  failed: number;
}
const tallies = new Map<string, Tally>();
const tally = (name: string): Tally => {
  let t = tallies.get(name);
  if (!t) tallies.set(name, (t = { sent: 0, answered: 0, failed: 0 }));
  return t;
};

/** Runs `body` in a loop until the deadline or `max` iterations; a failure is counted, never thrown. */
async function flood(
  name: string,
  until: number,
  max: number,
  body: (i: number, t: Tally) => Promise<void>,
): Promise<void> {
  const t = tally(name);
  // SOAK_ONLY=<name prefix> runs only those flooders: to find which one grows a process.
  if (process.env.SOAK_ONLY && !name.startsWith(process.env.SOAK_ONLY)) return;
  for (let i = 0; i < max && Date.now() < until; i++) {
    try {
      await body(i, t);
      t.sent++;
    } catch {
      t.failed++;
      // A refused send (a socket between connections) must not spin the loop.
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/** Reads and counts whatever a socket answers until it is closed. */
async function drain(sock: zmq.Readable, t: Tally): Promise<void> {
  try {
    for (;;) {
      await sock.receive();
      t.answered++;
    }
  } catch {
    // closed, or the receive timeout at the end
  }
}

/** A stranger that speaks ZMTP with its own CURVE key: refused at the handshake. */
async function strangerZmq(port: number, serverKey: string): Promise<void> {
  const keys = zmq.curveKeyPair();
  const d = new zmq.Dealer({
    curveServerKey: serverKey,
    curvePublicKey: keys.publicKey,
    curveSecretKey: keys.secretKey,
    linger: 0,
    sendTimeout: 0,
  });
  d.connect(`tcp://127.0.0.1:${port}`);
  await new Promise((r) => setTimeout(r, 10));
  await d.send(junk(256)).catch(() => {});
  d.close();
}

/** A stranger that does not even speak ZMTP: raw TCP bytes, then gone. */
function strangerTcp(port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.end(junk(64 * 1024));
    });
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    s.setTimeout(500, () => s.destroy());
  });
}

/**
 * Resident memory after a full garbage collection. Between collections a process under this load
 * swings by half its size, so each target is collected first, through its inspector: SIGUSR1 opens it
 * (on a random loopback port: the targets run with --inspect-port=0) and it prints its address.
 */
class Collector {
  private readonly urls = new Map<number, string>();
  constructor(private readonly outputs: Record<number, () => string>) {}

  private static listening(text: string): string[] {
    return [...text.matchAll(/Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[\w-]+)/g)].map(
      (m) => m[1]!,
    );
  }

  private async inspector(pid: number): Promise<string> {
    const known = this.urls.get(pid);
    if (known) return known;
    const output = this.outputs[pid]!;
    const before = new Set(Collector.listening(output()));
    process.kill(pid, 'SIGUSR1');
    const started = Date.now();
    for (;;) {
      const url = Collector.listening(output()).find((u) => !before.has(u));
      if (url) {
        this.urls.set(pid, url);
        return url;
      }
      if (Date.now() - started > 5000) throw new Error(`pid ${pid} opened no inspector`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Collects garbage in `pid` (twice: the first pass runs the finalizers that free native buffers). */
  async rssAfterGc(pid: number): Promise<number> {
    if (!processAlive(pid)) throw new Error(`pid ${pid} died in the soak`);
    const ws = new WebSocket(await this.inspector(pid));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    for (const id of [1, 2]) {
      ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }));
      await new Promise((resolve) => ws.once('message', resolve));
    }
    ws.close();
    return rssBytes(pid);
  }
}

const MiB = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

describe('soak: 30 s of hostile frames on every socket', () => {
  let agent: RunningAgent | null = null;
  let web: RunningWeb | null = null;
  const closers: (() => void)[] = [];
  after(async () => {
    for (const c of closers) c();
    await web?.stop();
    if (agent) await stopAgent(agent, 'SIGKILL');
  });

  it("keeps the agent's, the stage host's and the web server's memory within 20% and each answering", async () => {
    const beaconPort = testBeaconPort();
    // The targets (and the agent's stage host) can open an inspector on a random port: see Collector.
    const nodeOptions = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = `${nodeOptions ?? ''} --inspect-port=0`.trim();
    try {
      [agent, web] = await Promise.all([
        startAgent({ name: 'soaked', beaconPort }),
        startWeb({ beaconPort }),
      ]);
    } finally {
      if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = nodeOptions;
    }
    const a = agent;
    const w = web;
    const agentKey = loadOrCreateKeyPair(
      path.join(a.stateDir, 'agent'),
      'agent-key.json',
    ).publicKey;
    const lab: CurveKeyPair = labKeyPair(TEST_TOKEN);
    const { controlPort, telemetryPort } = a.ready;

    // The data plane: a real stage host, configured as the middle stage of mnist-mlp (no dataset).
    const control = rawDealer('127.0.0.1', controlPort, agentKey, lab);
    control.receiveTimeout = 30_000;
    closers.push(() => control.close());
    const spawned = (await requestJson(control, {
      v: PROTOCOL_VERSION,
      id: 'spawn',
      type: 'stage.spawn',
      runId: 'soak',
      stageIndex: 1,
      backend: 'cpu',
    })) as { ok: boolean; result: { port: number; pid: number } };
    assert.equal(spawned.ok, true, JSON.stringify(spawned));
    const stagePort = spawned.result.port;
    const stage = new StageLink('127.0.0.1', stagePort, agentKey, lab);
    closers.push(() => stage.close());
    let stageEvents = 0;
    stage.on('event', () => stageEvents++);
    const weightShapes = [[512, 256], [256]];
    const configured = await stage.request(
      {
        type: 'configure',
        runId: 'soak',
        stageIndex: 1,
        stages: 3,
        model: getModel('mnist-mlp'),
        start: 1,
        end: 2,
        schedule: '1f1b',
        microbatches: 4,
        batch: 64,
        optimizer: { name: 'sgd', learningRate: 0.01 },
        dataset: null,
        seed: 1,
        weightShapes,
        peerKeys: [],
      },
      weightShapes.map((s) => Buffer.alloc(s.reduce((x, y) => x * y, 1) * 4)),
      60_000,
    );
    assert.ok(configured.result, 'the stage host is configured');

    const pids = { agent: a.ready.pid, stage: spawned.result.pid, web: w.proc.pid! };
    const logs = () =>
      `agent:\n${a.output().slice(-3000)}\nweb server:\n${w.output().slice(-3000)}`;
    const until = Date.now() + SOAK_MS;
    const floods: Promise<void>[] = [];

    // Control socket, as the lab: garbage of every kind, replies read as they come.
    const labControl = rawDealer('127.0.0.1', controlPort, agentKey, lab);
    labControl.receiveTimeout = -1;
    closers.push(() => labControl.close());
    void drain(labControl, tally('control: lab key'));
    floods.push(
      flood('control: lab key', until, 2_000_000, async (i) => {
        const kind = randInt(5);
        if (kind === 0) await labControl.send(junk(2000));
        else if (kind === 1) await labControl.send(multipart());
        else if (kind === 4)
          await labControl.send(
            JSON.stringify({ v: PROTOCOL_VERSION, id: `p${i}`, type: 'ping', sentAt: i }),
          );
        else await labControl.send(wrongJson(i));
      }),
    );
    // Oversized messages cost the sender a CURVE encryption each and the agent a reconnection: their own pace.
    const bigControl = new zmq.Dealer({
      curveServerKey: agentKey,
      curvePublicKey: lab.publicKey,
      curveSecretKey: lab.secretKey,
      linger: 0,
      sendHighWaterMark: 2,
    });
    bigControl.connect(`tcp://127.0.0.1:${controlPort}`);
    closers.push(() => bigControl.close());
    const big = Buffer.alloc(MAX_CONTROL_MESSAGE_BYTES + 1024, 0x7b);
    floods.push(
      flood('control: oversized', until, 1500, async () => {
        await bigControl.send(big);
        await new Promise((r) => setTimeout(r, 20));
      }),
    );
    // Telemetry socket, as the lab: an XSUB can send the PUB anything, subscriptions included.
    const xsub = new zmq.XSubscriber({
      curveServerKey: agentKey,
      curvePublicKey: lab.publicKey,
      curveSecretKey: lab.secretKey,
      linger: 0,
    });
    xsub.connect(`tcp://127.0.0.1:${telemetryPort}`);
    closers.push(() => xsub.close());
    void drain(xsub, tally('telemetry: lab key'));
    const bigTelemetry = Buffer.alloc(MAX_TELEMETRY_MESSAGE_BYTES + 1024, 1);
    floods.push(
      flood('telemetry: lab key', until, 2_000_000, async (i) => {
        const kind = randInt(6);
        if (kind === 0) await xsub.send(Buffer.concat([Buffer.from([1]), junk(200)]));
        else if (kind === 1) await xsub.send(Buffer.concat([Buffer.from([0]), junk(200)]));
        else if (kind === 2) await xsub.send(multipart());
        else if (kind === 3 && i % 100 === 0) await xsub.send(bigTelemetry);
        else await xsub.send(junk(1000));
      }),
    );
    // Data plane, as the lab claiming to be the previous stage: bad tensors and good ones nobody asked for.
    const prev = new zmq.Dealer({
      routingId: 'stage-0',
      curveServerKey: agentKey,
      curvePublicKey: lab.publicKey,
      curveSecretKey: lab.secretKey,
      linger: 0,
      sendHighWaterMark: 1000,
    });
    prev.connect(`tcp://127.0.0.1:${stagePort}`);
    closers.push(() => prev.close());
    const act = (step: number, mb: number, rows: number, bytes = rows * 512 * 4) => [
      JSON.stringify({
        v: PROTOCOL_VERSION,
        kind: 'act',
        step,
        mb,
        dtype: 'float32',
        shape: [rows, 512],
      }),
      POOL.subarray(0, bytes),
    ];
    floods.push(
      flood('data plane: lab key as stage-0', until, 2_000_000, async () => {
        const kind = randInt(6);
        if (kind === 0) await prev.send(junk(2000));
        else if (kind === 1) await prev.send(multipart());
        else if (kind === 2) await prev.send([junk(8192), junk(64)]);
        else if (kind === 3) await prev.send(act(randInt(1e6), randInt(8), 4, 100));
        else if (kind === 4) await prev.send([wrongJson(0), junk(64)]);
        else await prev.send(act(randInt(1e9), randInt(64), 1 + randInt(4)));
      }),
    );
    const other = new zmq.Dealer({
      curveServerKey: agentKey,
      curvePublicKey: lab.publicKey,
      curveSecretKey: lab.secretKey,
      linger: 0,
      sendHighWaterMark: 1000,
    });
    other.connect(`tcp://127.0.0.1:${stagePort}`);
    closers.push(() => other.close());
    floods.push(
      flood('data plane: lab key, unknown routing id', until, 2_000_000, async () => {
        await other.send(randInt(2) ? junk(4000) : multipart());
      }),
    );
    // Strangers on all three ZeroMQ ports: their own CURVE keys, or raw TCP bytes.
    for (const [name, port] of [
      ['control', controlPort],
      ['telemetry', telemetryPort],
      ['data plane', stagePort],
    ] as const) {
      floods.push(
        flood(`${name}: stranger (CURVE)`, until, 3000, () => strangerZmq(port, agentKey)),
      );
      floods.push(flood(`${name}: stranger (raw TCP)`, until, 3000, () => strangerTcp(port)));
    }

    // The WebSocket API: garbage on long-lived connections and on fresh ones.
    const wsUrl = `ws://127.0.0.1:${w.port}/api?token=${w.token}`;
    const wsHeaders = { Host: `127.0.0.1:${w.port}`, Origin: `http://127.0.0.1:${w.port}` };
    const bigText = 'x'.repeat((1 << 20) + 1024);
    const badUtf8 = Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0xff, 0xfe, 0x22, 0x7d]);
    const openWs = () =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(wsUrl, { headers: wsHeaders });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    const wsMessage = (ws: WebSocket, i: number) => {
      const kind = randInt(8);
      if (kind === 0) ws.send(junk(2000), { binary: true });
      else if (kind === 1) ws.send(junk(2000).toString('latin1'));
      else if (kind === 2) ws.send(JSON.stringify({ t: 'call', id: i, op: 'listNodes', req: {} }));
      else if (kind === 3)
        ws.send(JSON.stringify({ t: 'call', id: i, op: 'addMachine', req: { address: 42 } }));
      else if (kind === 4 && i % 50 === 0) ws.send(bigText);
      else if (kind === 5 && i % 10 === 0) ws.send(badUtf8, { binary: false });
      else ws.send(wrongJson(i));
    };
    for (let c = 0; c < 2; c++)
      floods.push(
        (async () => {
          const t = tally('websocket: long-lived');
          let ws: WebSocket | null = null;
          for (let i = 0; i < 500_000 && Date.now() < until; i++) {
            try {
              if (!ws || ws.readyState !== ws.OPEN) {
                ws?.terminate();
                ws = await openWs();
                ws.on('message', () => t.answered++);
                ws.on('error', () => t.failed++);
              }
              // Respect the socket: queue no more than 1 MiB of our own sends at a time.
              while (ws.bufferedAmount > 1 << 20) await new Promise((r) => setTimeout(r, 1));
              wsMessage(ws, i);
              t.sent++;
              if (i % 64 === 0) await new Promise((r) => setImmediate(r));
            } catch {
              t.failed++;
              await new Promise((r) => setTimeout(r, 5));
            }
          }
          ws?.terminate();
        })(),
      );
    floods.push(
      flood('websocket: fresh connections', until, 20_000, async (i, t) => {
        const ws = await openWs();
        await new Promise<void>((resolve) => {
          ws.once('message', () => {
            t.answered++;
            resolve();
          });
          ws.once('close', () => resolve());
          ws.once('error', () => resolve());
          wsMessage(ws, i);
          setTimeout(resolve, 200);
        });
        ws.terminate();
      }),
    );

    const collector = new Collector({
      [pids.agent]: () => a.output(),
      [pids.stage]: () => a.output(),
      [pids.web]: () => w.output(),
    });
    const measure = async () => {
      const m: Record<string, { rss: number; fds: number }> = {};
      for (const [k, pid] of Object.entries(pids)) {
        try {
          m[k] = { rss: await collector.rssAfterGc(pid), fds: fdCount(pid) };
        } catch (err) {
          throw new Error(`the ${k}: ${(err as Error).message}\n${logs()}`);
        }
      }
      return m;
    };
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const start = await measure();
    // The end is measured while the floods still run, as the start was.
    await new Promise((r) => setTimeout(r, Math.max(0, until - 3000 - Date.now())));
    const end = await measure();
    await Promise.all(floods);

    for (const [name, t] of tallies)
      console.log(`${name}: ${t.sent} sent, ${t.answered} answers read, ${t.failed} refused`);
    console.log(`stage events received: ${stageEvents}`);
    for (const k of Object.keys(pids))
      console.log(
        `${k}: RSS after a full collection ${MiB(start[k]!.rss)} at ${WARMUP_MS / 1000} s → ${MiB(end[k]!.rss)} at ${(SOAK_MS - 3000) / 1000} s (${(((end[k]!.rss - start[k]!.rss) / start[k]!.rss) * 100).toFixed(1)}%); fds ${start[k]!.fds} → ${end[k]!.fds}`,
      );

    // Still standing, and still serving.
    assert.equal(a.proc.exitCode, null, `the agent exited:\n${a.output().slice(-2000)}`);
    assert.equal(w.proc.exitCode, null, `the web server exited:\n${w.output().slice(-2000)}`);
    const ping = await requestJson(control, {
      v: PROTOCOL_VERSION,
      id: 'final',
      type: 'ping',
      sentAt: 1,
    });
    assert.equal(ping.ok, true, 'the agent answers a ping');
    const sub = new zmq.Subscriber({
      curveServerKey: agentKey,
      curvePublicKey: lab.publicKey,
      curveSecretKey: lab.secretKey,
      linger: 0,
      receiveTimeout: 5000,
    });
    sub.connect(`tcp://127.0.0.1:${telemetryPort}`);
    sub.subscribe(TelemetryTopic.Sample);
    const [topic] = await sub.receive();
    sub.close();
    assert.equal(topic!.toString(), TelemetryTopic.Sample, 'telemetry still flows');
    const weights = await stage.request({ type: 'weights' }, [], 10_000);
    assert.equal(weights.frames.length, 2, 'the stage host answers its coordinator');
    const ws = await openWs();
    const answer = await new Promise<{ id: number; result: { ok: boolean } }>((resolve) => {
      ws.on('message', (d: WebSocket.RawData) => {
        const m = JSON.parse(d.toString()) as { t: string; id: number; result: { ok: boolean } };
        if (m.t === 'result' && m.id === 424242) resolve(m);
      });
      ws.send(JSON.stringify({ t: 'call', id: 424242, op: 'listNodes', req: {} }));
    });
    ws.terminate();
    assert.equal(answer.result.ok, true, 'the web server answers a real call');

    for (const k of Object.keys(pids)) {
      const [a0, a1] = [start[k]!.rss, end[k]!.rss];
      assert.ok(Math.abs(a1 - a0) <= a0 * 0.2, `${k}: RSS from ${MiB(a0)} to ${MiB(a1)}`);
      assert.ok(end[k]!.fds <= start[k]!.fds + 32, `${k}: fds ${start[k]!.fds} → ${end[k]!.fds}`);
    }
  });
});
