import { createHash, createPublicKey } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { parseCommand } from '../domain/commands/index.ts';
import { publicKeyFingerprint } from '../domain/crypto/index.ts';
import { decodeStored } from '../domain/stored.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { embeddedAndStandInStores } from './support/embedded-and-standin-stores.ts';
import { at, cmd, footprint, rejection, T0 } from './support/fleet.ts';

/*
 * Review 201 (SER-010): the same P-256 point sent in SEC 1 hybrid form (06|07 ‖ X ‖ Y) had a fingerprint of its own,
 * so a second credential on a key already certified passed keyIsNew and keyNeverCertified, though OpenSSL reads both
 * as one key. A key is accepted in its one encoding only (04 ‖ X ‖ Y): any other is refused as `canonical_key`,
 * before the machines, and nothing is written.
 */
const secret = p256.utils.randomSecretKey(new Uint8Array(48).fill(7));
const uncompressed = p256.getPublicKey(secret, false);
const compressed = p256.getPublicKey(secret, true);
const hybrid = Uint8Array.from(uncompressed);
hybrid[0] = 0x06 | ((uncompressed[64] as number) & 1);

/** The SubjectPublicKeyInfo around the bytes sent, and its SHA-256: the fingerprint a device computes over what it sends. */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
const spki = (raw: Uint8Array): Buffer => Buffer.concat([P256_SPKI_PREFIX, raw]);
const fingerprintOfBytesSent = (raw: Uint8Array): string => `sha256:${createHash('sha256').update(spki(raw)).digest('hex')}`;

const onKey = (raw: Uint8Array) => ({ kind: 'p256', publicKey: Buffer.from(raw).toString('base64url'), fingerprint: fingerprintOfBytesSent(raw) });

/** meter-1 and meter-2 enrolled; cred-a issued to meter-1 on the P-256 key, uncompressed. */
const certified = async (store: EventStore): Promise<Engine> => {
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-1'), cmd.enrolNode('meter-2')]) {
    await engine.execute(c);
  }
  await engine.execute(cmd.issueCredential('cred-a', 'meter-1', at(90), onKey(uncompressed)));
  return engine;
};

describe('the premise', () => {
  it('OpenSSL reads the hybrid form as the same key as the uncompressed one, under another fingerprint', () => {
    const a = createPublicKey({ key: spki(uncompressed), format: 'der', type: 'spki' });
    const b = createPublicKey({ key: spki(hybrid), format: 'der', type: 'spki' });
    expect(a.equals(b)).toBe(true);
    expect(fingerprintOfBytesSent(hybrid)).not.toBe(publicKeyFingerprint('p256', uncompressed));
    expect(fingerprintOfBytesSent(uncompressed)).toBe(publicKeyFingerprint('p256', uncompressed));
  });
});

describe.each(embeddedAndStandInStores())('a P-256 key already certified, on %s', (_, open) => {
  it.each([
    ['hybrid', hybrid],
    ['compressed', compressed],
  ] as const)('sent in %s form for another node is refused as canonical_key naming publicKey, and nothing is written', async (_form, raw) => {
    const store = await open();
    const engine = await certified(store);
    const before = await footprint(store);
    const refused = await rejection(engine.execute(cmd.issueCredential('cred-b', 'meter-2', at(90), onKey(raw))));
    expect(refused.problem.code).toBe('validation');
    expect(refused.problem).toMatchObject({ issues: expect.arrayContaining([expect.objectContaining({ path: 'data.publicKey', rule: 'canonical_key' })]) });
    expect(refused.message).toContain('04 ‖ X ‖ Y');
    expect(await footprint(store)).toEqual(before);
    expect(await store.readStream('credential-cred-b')).toHaveLength(0);
    await store.close();
  });

  it('sent in its one encoding for another node is still refused by keyNeverCertified', async () => {
    const store = await open();
    const engine = await certified(store);
    const refused = await rejection(engine.execute(cmd.issueCredential('cred-b', 'meter-2', at(90), onKey(uncompressed))));
    expect(refused.problem).toMatchObject({ code: 'illegal_transition', rule: 'keyNeverCertified' });
    await store.close();
  });
});

describe('a key in another encoding elsewhere', () => {
  it('stored before this rule, is read as it was written: the stored-event schema holds no command rule', async () => {
    const store = openSqliteStore({ memory: true });
    await certified(store);
    const [issued] = await store.readStream('credential-cred-a');
    const record = { ...issued!, data: { ...issued!.data, ...onKey(hybrid) } };
    const decoded = decodeStored(record);
    expect(decoded.ok).toBe(true);
    await store.close();
  });

  it("in a provisioning receipt's credential, is refused as canonical_key naming that field", () => {
    const receipt = {
      version: 2, sessionId: 's-1', nodeId: 'meter-2', enrolmentFunctionId: 'ef-1', credentialId: 'cred-b',
      credential: { ...onKey(hybrid), notBefore: T0, notAfter: at(90), owner: { kind: 'node', id: 'meter-2' } },
      bootstrapKind: 'ed25519', bootstrapFingerprint: publicKeyFingerprint('p256', uncompressed), serviceParameters: {},
      transcriptHash: Buffer.alloc(32).toString('base64url'), completedAt: T0,
      bootstrapProof: Buffer.alloc(64).toString('base64url'), credentialProof: Buffer.alloc(64).toString('base64url'),
    };
    const input = cmd.provisionCredential('cred-b');
    const refused = (() => {
      try {
        parseCommand({ ...input, data: { ...input.data, method: 'remote-provisioning', receipt } });
      } catch (error) {
        return error as { problem: unknown };
      }
      return undefined;
    })();
    expect(refused?.problem).toMatchObject({
      code: 'validation',
      issues: expect.arrayContaining([expect.objectContaining({ path: 'data.receipt.credential.publicKey', rule: 'canonical_key' })]),
    });
  });
});
