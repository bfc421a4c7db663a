// One rank of npm run bench:allreduce, in its own process: a ZeroMQ ring link, then whatever the
// parent asks over the IPC channel (connect, run all-reduces, point-to-point), each answered.
import { ringAllReduce } from '../../native/pipeline/ringAllReduce.js';
import { ZmqRingLink } from '../../native/pipeline/zmqRingLink.js';

type Ask =
  | { type: 'connect'; endpoint: string; publicKey: string; rank: number; size: number }
  | { type: 'allreduce'; bytes: number; iterations: number }
  | { type: 'p2p'; bytes: number; iterations: number }
  | { type: 'exit' };

const link = await ZmqRingLink.open();
let rank = 0;
let size = 1;
let tag = 0;
process.send!({ endpoint: link.endpoint, publicKey: link.publicKey });
process.on('message', (ask: Ask) => {
  void (async () => {
    switch (ask.type) {
      case 'connect':
        ({ rank, size } = ask);
        link.connectNext(ask.endpoint, ask.publicKey);
        process.send!({ ok: true });
        return;
      case 'allreduce': {
        const data = new Float32Array(ask.bytes / 4).fill(rank + 1);
        await ringAllReduce(data, rank, size, link, ++tag); // warm-up: connections, buffers
        const t0 = performance.now();
        for (let i = 0; i < ask.iterations; i++) await ringAllReduce(data, rank, size, link, ++tag);
        const ms = (performance.now() - t0) / ask.iterations;
        // Every element is the sum of every rank's start value, times (n)^iterations… of sums of sums.
        process.send!({ ms, ok: Number.isFinite(data[0]!) });
        return;
      }
      case 'p2p': {
        // Rank 0 sends, rank 1 receives: the same socket pair's one-way rate, timed from the first
        // message's arrival to the last (so the start's skew does not count).
        const data = new Float32Array(ask.bytes / 4);
        if (rank === 0) {
          for (let i = 0; i <= ask.iterations; i++)
            await link.send({ tag: 0, round: i, segment: 0, offset: 0, data });
          process.send!({ ms: 0 });
        } else if (rank === 1) {
          await link.recv();
          const t0 = performance.now();
          for (let i = 0; i < ask.iterations; i++) await link.recv();
          process.send!({ ms: (performance.now() - t0) / ask.iterations });
        } else process.send!({ ms: 0 });
        return;
      }
      case 'exit':
        link.close();
        process.exit(0);
    }
  })().catch((err: Error) => {
    process.send!({ error: err.message });
  });
});
