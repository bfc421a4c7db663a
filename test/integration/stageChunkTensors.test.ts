import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import * as zmq from 'zeromq';
import { initBackend } from '../../native/backend/initBackend.js';
import type { StageEvent } from '../../native/pipeline/stageProtocol.js';
import { StageLink } from '../../native/coordinator/stageLink.js';
import { buildModel } from '../../native/model/build.js';
import { getModel } from '../../native/model/catalogue.js';
import { encodeTensor } from '../../native/protocol/tensorFrame.js';
import { PROTOCOL_VERSION } from '../../native/protocol/version.js';
import { loadOrCreateKeyPair } from '../../native/trust/keyPair.js';
import { labKeyPair } from '../../native/trust/token.js';
import {
  startAgent,
  stopAgent,
  testBeaconPort,
  TEST_TOKEN,
  type RunningAgent,
} from '../helpers/agents.js';
import { rawDealer, requestJson } from '../helpers/rawControl.js';

/**
 * A stage host of an interleaved run takes from each neighbour only the chunks the virtual pipeline
 * sends it: stage 0 of 2 stages × 2 chunks gets chunk 1's activations from stage 1 (chunk 0 of
 * stage 1 feeds chunk 1 of stage 0) and never chunk 0's, whose input is the data. Anything else, or
 * a chunk it does not hold, fails the run in words rather than being trained on or kept.
 */
describe('a stage of several chunks refuses tensors for chunks it does not take', () => {
  let agent: RunningAgent | null = null;
  const closers: (() => void)[] = [];
  after(async () => {
    closers.forEach((c) => c());
    if (agent) await stopAgent(agent, 'SIGKILL');
  });

  it('stage 0 of 2 × 2 chunks: chunk 1 from stage 1 is taken, chunk 0 and chunk 2 are refused', async () => {
    agent = await startAgent({ name: 'chunks', beaconPort: testBeaconPort() });
    const agentKey = loadOrCreateKeyPair(
      path.join(agent.stateDir, 'agent'),
      'agent-key.json',
    ).publicKey;
    const lab = labKeyPair(TEST_TOKEN);
    const control = rawDealer('127.0.0.1', agent.ready.controlPort, agentKey, lab);
    control.receiveTimeout = 30_000;
    closers.push(() => control.close());
    const spawned = (await requestJson(control, {
      v: PROTOCOL_VERSION,
      id: 'spawn',
      type: 'stage.spawn',
      runId: 'chunks',
      stageIndex: 0,
      backend: 'wasm',
    })) as { ok: boolean; result: { port: number } };
    assert.equal(spawned.ok, true, JSON.stringify(spawned));
    const stage = new StageLink('127.0.0.1', spawned.result.port, agentKey, lab);
    closers.push(() => stage.close());
    const errors: string[] = [];
    stage.on('event', (e: StageEvent) => {
      if (e.event === 'error') errors.push(e.message);
    });

    // deep-mlp's layers 0–1 (chunk 0) and 4–5 (chunk 1), as the coordinator would send them.
    const model = getModel('deep-mlp');
    const { tf } = await initBackend({ prefer: 'wasm' });
    const full = buildModel(tf, model);
    const weights = [0, 1, 4, 5].flatMap((i) => full.layers[i]!.getWeights());
    const configured = await stage.request(
      {
        type: 'configure',
        runId: 'chunks',
        stageIndex: 0,
        stages: 2,
        model,
        start: 0,
        end: 2,
        chunks: [
          { start: 0, end: 2 },
          { start: 4, end: 6 },
        ],
        schedule: 'interleaved-1f1b',
        microbatches: 2,
        batch: 8,
        optimizer: { name: 'sgd', learningRate: 0.01 },
        dataset: null,
        seed: 1,
        weightShapes: weights.map((w) => w.shape),
        peerKeys: [],
      },
      weights.map((w) => Buffer.from((w.dataSync() as Float32Array).buffer)),
      60_000,
    );
    full.dispose();
    assert.ok(configured.result, 'configured with two chunks');

    // As stage 1: its DEALER's routing id is how the stage host knows who sends.
    const asStage1 = new zmq.Dealer({
      routingId: 'stage-1',
      curveServerKey: agentKey,
      curvePublicKey: lab.publicKey,
      curveSecretKey: lab.secretKey,
      linger: 0,
    });
    closers.push(() => asStage1.close());
    asStage1.connect(`tcp://127.0.0.1:${spawned.result.port}`);
    const act = (chunk: number, mb: number) =>
      encodeTensor(
        { v: PROTOCOL_VERSION, kind: 'act', step: 0, mb, chunk, dtype: 'float32', shape: [4, 256] },
        new Float32Array(4 * 256),
      );
    await asStage1.send(act(1, 0));
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(errors, [], 'chunk 1 from stage 1 is what stage 0 takes');
    await asStage1.send(act(0, 1));
    await asStage1.send(act(2, 1));
    const deadline = Date.now() + 10_000;
    while (errors.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(errors.length, 2, errors.join('\n'));
    for (const [i, chunk] of [0, 2].entries())
      assert.match(
        errors[i]!,
        new RegExp(
          `stage 1 replica 0 sent a tensor marked chunk ${chunk}, replica 0: from there this stage takes chunks 1–1`,
        ),
      );
  });
});
