import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  parseNvidiaNumber,
  parseNvidiaOutput,
  queryNvidiaSmi,
} from '../../native/inventory/nvidiaSmi.js';

const fixture = (name: string) =>
  fs.readFileSync(path.join(import.meta.dirname, '../fixtures/nvidia-smi', name), 'utf8');
const MIB = 1024 * 1024;

describe('nvidia-smi parsing', () => {
  it('reads "no devices" as no GPUs, not an error', () => {
    assert.deepEqual(parseNvidiaOutput(fixture('no-gpu.txt')), { ok: true, gpus: [] });
  });

  it('reads one GPU with every figure', () => {
    const r = parseNvidiaOutput(fixture('one-gpu.txt'));
    assert.ok(r.ok);
    assert.equal(r.gpus.length, 1);
    const g = r.gpus[0]!;
    assert.deepEqual(g.info, {
      index: 0,
      vendor: 'NVIDIA',
      model: 'NVIDIA GeForce RTX 3090',
      vramBytes: 24576 * MIB,
      driver: '535.104.05',
      busId: '00000000:01:00.0',
      uuid: 'GPU-5c5d8e0c-3a1f-4e0b-9d6e-1f2a3b4c5d6e',
    });
    assert.deepEqual(g.sample, {
      index: 0,
      utilizationPct: 37,
      memUsedBytes: 1234 * MIB,
      memTotalBytes: 24576 * MIB,
      temperatureC: 52,
      powerW: 112.43,
      powerLimitW: 350,
    });
  });

  it('reads several GPUs in index order and keeps real zeros', () => {
    const r = parseNvidiaOutput(fixture('four-gpus.txt'));
    assert.ok(r.ok);
    assert.deepEqual(
      r.gpus.map((g) => g.info.index),
      [0, 1, 2, 3],
    );
    assert.equal(r.gpus[2]!.sample.utilizationPct, 0);
    assert.equal(r.gpus[2]!.sample.memUsedBytes, 0);
    assert.equal(r.gpus[0]!.info.busId, '00000000:07:00.0');
  });

  it('maps [N/A] and [Not Supported] to null but 0 to 0', () => {
    const r = parseNvidiaOutput(fixture('zeros-and-na.txt'));
    assert.ok(r.ok);
    const [idle, old] = r.gpus;
    assert.equal(idle!.sample.utilizationPct, 0);
    assert.equal(idle!.sample.temperatureC, 0);
    assert.equal(idle!.sample.powerW, null);
    assert.equal(idle!.sample.powerLimitW, null);
    assert.equal(old!.sample.utilizationPct, null);
    assert.equal(old!.sample.powerW, null);
    assert.equal(old!.sample.temperatureC, 29);
    assert.equal(old!.info.model, 'Tesla K80');
  });

  it("reports a driver failure with the driver's words", () => {
    const r = parseNvidiaOutput(fixture('driver-failure.txt'));
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /couldn't communicate with the NVIDIA driver/);
  });

  it('tolerates units printed despite nounits', () => {
    const r = parseNvidiaOutput(fixture('with-units.txt'));
    assert.ok(r.ok);
    assert.equal(r.gpus[0]!.sample.powerW, 301.52);
    assert.equal(r.gpus[0]!.sample.utilizationPct, 64);
    assert.equal(r.gpus[0]!.info.vramBytes, 24564 * MIB);
  });

  it('parses single fields', () => {
    assert.equal(parseNvidiaNumber('0'), 0);
    assert.equal(parseNvidiaNumber(' 12.5 '), 12.5);
    for (const v of ['[N/A]', 'N/A', '[Not Supported]', '', undefined, '[Unknown Error]'])
      assert.equal(parseNvidiaNumber(v), null, String(v));
  });

  it('says so when nvidia-smi is not installed', async () => {
    const r = await queryNvidiaSmi('/nonexistent/nvidia-smi');
    assert.deepEqual(r, { ok: false, reason: 'nvidia-smi not found (no NVIDIA driver installed)' });
  });
});
