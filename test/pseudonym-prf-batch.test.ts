// Issue 15 item 5: a rotation round derives a whole fleet's pseudonyms with one Secure Environment call per chunk
// (`macMany`: the key opened once inside the environment, never outside), with exactly the values `mac` gives.
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DAY, FakeClock } from '../adapters/driven/clock/index.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { hmacSha256 } from '../domain/crypto/index.ts';
import { hmacSha256Many } from '../domain/crypto/hash.ts';
import { isCredenceError } from '../domain/errors.ts';
import { PseudonymDeriver, pseudonymRotation, secureEnvironmentPseudonymKey, type PseudonymKey } from '../projections/pseudonyms/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { cmd, footprint, T0 } from './support/fleet.ts';

const OWNER = 'credence:pseudonyms';
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (s: string) => new TextEncoder().encode(s);

const secureEnvironment = async () => {
  const se = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, {
    now: () => new Date(T0),
    random: (n) => new Uint8Array(randomBytes(n)),
  });
  return { se, handle: await se.generate(OWNER, 'psk256') };
};

/** A PRF that counts its calls, as a Secure Environment's would be counted. */
const countingKey = (withMany: boolean) => {
  const key = new Uint8Array(32).fill(9);
  const calls = { prf: 0, prfMany: 0, messages: 0 };
  const k: PseudonymKey = {
    prf: async (m) => (calls.prf++, calls.messages++, hmacSha256(key, m)),
    ...(withMany ? { prfMany: async (ms: readonly Uint8Array[]) => (calls.prfMany++, (calls.messages += ms.length), ms.map((m) => hmacSha256(key, m))) } : {}),
  };
  return { key: k, calls };
};

describe('HMAC-SHA256 of many messages under one key', () => {
  it('gives the RFC 4231 tags and, for any messages, what one HMAC per message gives', () => {
    // RFC 4231 section 4.3 (test case 2) and 4.2 (test case 1).
    const [tc2] = hmacSha256Many(bytes('Jefe'), [bytes('what do ya want for nothing?')]);
    expect(hex(tc2!)).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
    const [tc1] = hmacSha256Many(new Uint8Array(20).fill(0x0b), [bytes('Hi There')]);
    expect(hex(tc1!)).toBe('b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
    const key = new Uint8Array(randomBytes(32));
    const messages = [new Uint8Array(0), bytes('a'), new Uint8Array(randomBytes(64)), new Uint8Array(randomBytes(1000)), bytes('a')];
    expect(hmacSha256Many(key, messages).map(hex)).toEqual(messages.map((m) => hex(hmacSha256(key, m))));
    expect(hmacSha256Many(key, [])).toEqual([]);
  });

  it('names the message that is not bytes', () => {
    expect(() => hmacSha256Many(new Uint8Array(32), [bytes('ok'), 'nope' as unknown as Uint8Array])).toThrow(/messages\[1\]/);
  });
});

describe('macMany in the embedded Secure Environment', () => {
  it('equals mac for every message, in order, for the key owner only and for MAC keys only', async () => {
    const { se, handle } = await secureEnvironment();
    const view = se.forOwner(OWNER);
    const messages = Array.from({ length: 50 }, (_, i) => bytes(`node-${i}`));
    const tags = await view.macMany!(handle, messages);
    expect(tags.map(hex)).toEqual(await Promise.all(messages.map(async (m) => hex(await view.mac(handle, m)))));

    const stranger = await se.macMany('someone-else', handle, messages).then(() => undefined, (e: unknown) => e);
    expect(isCredenceError(stranger, 'unauthorised'), String(stranger)).toBe(true);
    const signing = await se.generate(OWNER, 'ed25519');
    await expect(view.macMany!(signing, messages)).rejects.toThrow();
    await expect(view.macMany!(handle, [bytes('x'), 7 as unknown as Uint8Array])).rejects.toThrow(/messages\[1\]/);
    se.close();
  });
});

describe('deriving many pseudonyms at once', () => {
  it('gives what one derivation per node gives, in one PRF call for those not memoised', async () => {
    const { se, handle } = await secureEnvironment();
    const batched = new PseudonymDeriver(secureEnvironmentPseudonymKey(se.forOwner(OWNER), handle), 0);
    const single = new PseudonymDeriver({ prf: (m) => se.mac(OWNER, handle, m) }, 0);
    const wanted = Array.from({ length: 40 }, (_, i) => ({ nodeId: `meter-${i % 20}`, epoch: i < 20 ? 0 : 3 }));
    const expected = [];
    for (const w of wanted) expected.push(await single.node(w.nodeId, w.epoch));
    expect(await batched.nodes(wanted)).toEqual(expected);
    expect(new Set(expected).size).toBe(40);

    const counted = countingKey(true);
    const deriver = new PseudonymDeriver(counted.key);
    await deriver.node('meter-1', 0);
    await deriver.nodes(wanted.slice(0, 5));
    // meter-1 at epoch 0 was memoised: 4 messages in one call.
    expect(counted.calls).toEqual({ prf: 1, prfMany: 1, messages: 5 });
    se.close();
  });

  it('falls back to one PRF call per node when the key has no batch call', async () => {
    const counted = countingKey(false);
    const deriver = new PseudonymDeriver(counted.key);
    const out = await deriver.nodes([{ nodeId: 'a', epoch: 0 }, { nodeId: 'b', epoch: 0 }]);
    expect(out).toEqual([await deriver.node('a', 0), await deriver.node('b', 0)]);
    expect(counted.calls).toEqual({ prf: 2, prfMany: 0, messages: 2 });
  });

  it('a catch-up derives the initial pseudonyms of the nodes registered in a batch in one PRF call', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock, pseudonyms: { key: countingKey(true).key } });
    for (let i = 0; i < 6; i++) await c.engine.execute(cmd.registerNode(`meter-${i}`));
    await c.settle();
    const before = await footprint(c.store);
    const counted = countingKey(true);
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    await new ProjectionRunner({ db, store: c.store, projections: [pseudonymRotation({ engine: c.engine, deriver: new PseudonymDeriver(counted.key) })] }).catchUp();
    expect(counted.calls).toEqual({ prf: 0, prfMany: 1, messages: 6 });
    // The reactions had all happened: the pseudonyms derived are the stored ones, nothing new is appended.
    expect(await footprint(c.store)).toEqual(before);
    expect((db.prepare('SELECT COUNT(*) AS n FROM pseudonym_directory').get() as { n: bigint }).n).toBe(6n);
    await c.close();
  });

  it('rotates every due node in a tick with one PRF call per chunk, to the pseudonyms one call per node gives', async () => {
    const run = async (withMany: boolean) => {
      const clock = new FakeClock(T0);
      const counted = countingKey(withMany);
      const c = openCredence({ location: { memory: true }, clock, pseudonyms: { key: counted.key, policy: { default: { everyMs: DAY } } } });
      for (let i = 0; i < 30; i++) await c.engine.execute(cmd.registerNode(`meter-${i}`));
      await c.settle();
      clock.advance(DAY);
      const before = { ...counted.calls };
      const rotated = await c.pseudonyms!.tick();
      const calls = { prf: counted.calls.prf - before.prf, prfMany: counted.calls.prfMany - before.prfMany };
      await c.settle();
      const current = c.readModels.prepare('SELECT node_id, epoch, pseudonym FROM pseudonym_nodes ORDER BY node_id').all();
      await c.close();
      return { rotated, calls, current };
    };
    const batched = await run(true);
    expect(batched.rotated).toBe(30);
    expect(batched.calls).toEqual({ prf: 0, prfMany: 1 });
    expect(batched.current.every((r) => (r as { epoch: bigint }).epoch === 1n)).toBe(true);
    const oneByOne = await run(false);
    expect(oneByOne.calls).toEqual({ prf: 30, prfMany: 0 });
    expect(oneByOne.current).toEqual(batched.current);
  });
});
