import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import * as zmq from 'zeromq';
import {
  generateToken,
  isValidToken,
  labKeyPair,
  loadOrCreateToken,
} from '../../native/trust/token.js';
import { TrustedKeys } from '../../native/trust/trustedKeys.js';
import { loadOrCreateKeyPair } from '../../native/trust/keyPair.js';
import { z85Encode } from '../../native/util/z85.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pf-trust-'));

describe('tokens and keys', () => {
  it('generates valid, distinct tokens', () => {
    const a = generateToken();
    assert.ok(isValidToken(a));
    assert.notEqual(a, generateToken());
    assert.ok(!isValidToken('pf1.xyz'));
  });

  it('creates the token once, mode 0600, and reads it back', () => {
    const dir = tmp();
    const first = loadOrCreateToken(dir);
    assert.equal(first.created, true);
    assert.equal(fs.statSync(first.file).mode & 0o777, 0o600);
    const again = loadOrCreateToken(dir);
    assert.deepEqual([again.created, again.token], [false, first.token]);
  });

  it('refuses a token file that holds something else', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'token'), 'hunter2\n');
    assert.throws(() => loadOrCreateToken(dir), /does not hold a Pipefitter token/);
  });

  it('derives the same lab key pair from the same token, and another from another', () => {
    const t = generateToken();
    assert.deepEqual(labKeyPair(t), labKeyPair(t));
    assert.notEqual(labKeyPair(t).publicKey, labKeyPair(generateToken()).publicKey);
    assert.equal(labKeyPair(t).publicKey.length, 40);
  });

  it('derives a key pair libzmq accepts for a CURVE handshake', async () => {
    const server = zmq.curveKeyPair();
    const client = labKeyPair(generateToken());
    const rep = new zmq.Reply({ curveServer: true, curveSecretKey: server.secretKey, linger: 0 });
    await rep.bind('tcp://127.0.0.1:*');
    const req = new zmq.Request({
      curveServerKey: server.publicKey,
      curvePublicKey: client.publicKey,
      curveSecretKey: client.secretKey,
      linger: 0,
      receiveTimeout: 3000,
    });
    req.connect(rep.lastEndpoint!);
    await req.send('ping');
    const [msg] = await rep.receive();
    await rep.send(`pong:${msg!.toString()}`);
    const [reply] = await req.receive();
    assert.equal(reply!.toString(), 'pong:ping');
    req.close();
    rep.close();
  });

  it('persists key pairs and trusted keys', () => {
    const dir = tmp();
    const kp = loadOrCreateKeyPair(dir, 'k.json');
    assert.deepEqual(loadOrCreateKeyPair(dir, 'k.json'), kp);
    const t = new TrustedKeys(dir);
    t.add(kp.publicKey, 'test');
    assert.ok(new TrustedKeys(dir).has(kp.publicKey));
    assert.ok(!new TrustedKeys(dir).has('x'.repeat(40)));
  });

  it('encodes Z85 as the RFC example says', () => {
    assert.equal(
      z85Encode(Uint8Array.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b])),
      'HelloWorld',
    );
  });
});
