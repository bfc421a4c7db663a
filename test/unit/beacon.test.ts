import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeBeacon,
  encodeBeacon,
  isAuthenticBeacon,
  BEACON_VERSION,
} from '../../native/discovery/beacon.js';
import { StrangerLog } from '../../native/discovery/strangerLog.js';
import { beaconKey } from '../../native/trust/token.js';
import { broadcastAddress, broadcastTargets } from '../../native/discovery/interfaces.js';

const key = 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7';
const sample = {
  nodeId: 'b6d1a291-0417-4c63-bcda-5c9ee7b9a7c0',
  cluster: 'lab-3',
  name: 'ws-07',
  controlPort: 47801,
  address: '',
  publicKey: key,
};

describe('beacon encoding', () => {
  it('round-trips every field', () => {
    const d = decodeBeacon(encodeBeacon(sample));
    assert.deepEqual(d, { ok: true, beacon: { ...sample, version: BEACON_VERSION } });
  });

  it('carries an advertised address and unicode names', () => {
    const d = decodeBeacon(encodeBeacon({ ...sample, name: 'Lab PC — Zoë', address: '10.1.2.3' }));
    assert.ok(d.ok);
    assert.equal(d.beacon.name, 'Lab PC — Zoë');
    assert.equal(d.beacon.address, '10.1.2.3');
  });

  it('rejects another protocol version', () => {
    const buf = encodeBeacon(sample);
    buf.writeUInt8(BEACON_VERSION + 1, 3);
    assert.deepEqual(decodeBeacon(buf), { ok: false, reason: 'version' });
  });

  it('rejects garbage, truncation and trailing bytes without throwing', () => {
    const good = encodeBeacon(sample);
    assert.deepEqual(decodeBeacon(Buffer.from('hello world')), { ok: false, reason: 'signature' });
    assert.deepEqual(decodeBeacon(Buffer.alloc(0)), { ok: false, reason: 'truncated' });
    for (let cut = 3; cut < good.length; cut++) {
      const r = decodeBeacon(good.subarray(0, cut));
      assert.equal(r.ok, false, `truncated at ${cut} must not decode`);
    }
    assert.deepEqual(decodeBeacon(Buffer.concat([good, Buffer.from([1])])), {
      ok: false,
      reason: 'invalid',
    });
    assert.deepEqual(decodeBeacon(Buffer.alloc(4096, 1)), { ok: false, reason: 'oversized' });
  });

  it('survives thousands of random datagrams', () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) & 0xff;
    for (let i = 0; i < 5000; i++) {
      const len = rand() % 200;
      const buf = Buffer.from(Array.from({ length: len }, rand));
      if (i % 2) Buffer.from('PFB\x01').copy(buf);
      assert.doesNotThrow(() => decodeBeacon(buf));
    }
  });

  it('refuses to encode what it could not decode', () => {
    assert.throws(() => encodeBeacon({ ...sample, publicKey: 'short' }), /z85/);
    assert.throws(() => encodeBeacon({ ...sample, name: 'x'.repeat(300) }), /longer than 255/);
  });
});

describe('broadcast targets', () => {
  it('computes the broadcast address of a subnet', () => {
    assert.equal(broadcastAddress('192.168.1.20', '255.255.255.0'), '192.168.1.255');
    assert.equal(broadcastAddress('10.0.3.7', '255.255.252.0'), '10.0.3.255');
    assert.equal(broadcastAddress('127.0.0.1', '255.0.0.0'), '127.255.255.255');
  });

  it('skips loopback and IPv6 unless an interface is named', () => {
    const ifaces = {
      lo: [
        {
          address: '127.0.0.1',
          netmask: '255.0.0.0',
          family: 'IPv4',
          mac: '',
          internal: true,
          cidr: null,
        },
      ],
      eth0: [
        {
          address: '10.0.0.5',
          netmask: '255.255.255.0',
          family: 'IPv4',
          mac: '',
          internal: false,
          cidr: null,
        },
        {
          address: 'fe80::1',
          netmask: 'ffff::',
          family: 'IPv6',
          mac: '',
          internal: false,
          cidr: null,
          scopeid: 1,
        },
      ],
    } as unknown as Parameters<typeof broadcastTargets>[1];
    assert.deepEqual(broadcastTargets(undefined, ifaces), [
      { iface: 'eth0', address: '10.0.0.5', broadcast: '10.0.0.255' },
    ]);
    assert.deepEqual(broadcastTargets('lo', ifaces), [
      { iface: 'lo', address: '127.0.0.1', broadcast: '127.255.255.255' },
    ]);
    assert.deepEqual(broadcastTargets('10.0.0.5', ifaces)[0]?.iface, 'eth0');
    assert.throws(() => broadcastTargets('wlan9', ifaces), /no IPv4 interface/);
  });

  it('a signed beacon decodes and proves the token; a wrong key, a flipped bit or no tag do not', () => {
    const key = beaconKey('pf1.0123456789abcdef0123456789abcdef');
    const other = beaconKey('pf1.ffffffffffffffffffffffffffffffff');
    const signed = encodeBeacon(sample, key);
    const d = decodeBeacon(signed);
    assert.ok(d.ok);
    assert.deepEqual(d.beacon, { ...sample, version: BEACON_VERSION });
    assert.equal(d.signed, true);
    assert.equal(isAuthenticBeacon(signed, key), true);
    assert.equal(isAuthenticBeacon(signed, other), false);
    assert.equal(isAuthenticBeacon(encodeBeacon(sample), key), false, 'unsigned');
    for (let i = 7; i < signed.length; i++) {
      const bad = Buffer.from(signed);
      bad[i]! ^= 0x01;
      const dd = decodeBeacon(bad);
      assert.ok(!dd.ok || !isAuthenticBeacon(bad, key), `bit flipped at byte ${i} must not verify`);
    }
    // An unknown flag bit is not ours.
    const flagged = Buffer.from(signed);
    flagged.writeUInt8(0x03, 6);
    assert.deepEqual(decodeBeacon(flagged), { ok: false, reason: 'invalid' });
  });

  it('the stranger log is bounded and keeps the most recently heard addresses', () => {
    const log = new StrangerLog(4);
    for (let i = 0; i < 1000; i++) log.record(`10.0.0.${i % 10}`, i);
    log.record('10.0.0.3', 2000);
    assert.equal(log.size, 4);
    const s = log.summary();
    assert.equal(s[0]!.address, '10.0.0.3');
    assert.equal(s[0]!.beacons, 1, 'forgotten once evicted, counted anew');
    assert.deepEqual(
      s.map((x) => x.address),
      ['10.0.0.3', '10.0.0.9', '10.0.0.8', '10.0.0.7'],
    );
  });
});
