import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { ENTRY_OVERHEAD_BYTES } from '../adapters/engine/entity-cache.ts';
import { jsonLength } from '../adapters/engine/json-size.ts';
import { PeekMemo } from '../adapters/engine/peek-memo.ts';
import { descriptorOf } from '../adapters/protocols/procedures/index.ts';
import { at, cmd, fingerprint, T0 } from './support/fleet.ts';

/** Characters of every string reachable from `value`, keys included: what its strings hold at a byte each at least. */
const stringChars = (value: unknown): number => {
  if (typeof value === 'string') return value.length;
  if (typeof value !== 'object' || value === null) return 0;
  let chars = 0;
  for (const [key, item] of Object.entries(value)) chars += key.length + stringChars(item);
  return chars;
};

/**
 * Found in review: the hello memo kept a credential's whole issue event (its stored record, raw data and metadata, and
 * the event decoded) but counted twice the event's JSON length, about 20% short of what it held, so its byte bound
 * let it grow past its share. It now keeps only what the hello's descriptor reads of the issue, the public key and
 * the certificate's DER, and counts those strings.
 */
describe('a hello lookup of a credential (engine.peek)', () => {
  it("keeps of the credential's issue only its public key and certificate DER, and its estimate covers all it keeps", async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    const der = randomBytes(700).toString('base64url');
    const certificate = { fingerprint: fingerprint(91), subject: 'CN=meter-1', issuer: 'CN=Acme IDevID CA 01', serialNumber: 'meter-1-serial', notBefore: T0, notAfter: at(90), der };
    await engine.execute(cmd.createSubscription());
    await engine.execute(cmd.registerNode('meter-1'));
    await engine.execute(cmd.enrolNode('meter-1'));
    await engine.execute(cmd.issueCredential('cred-1', 'meter-1', at(90), { certificate }));
    const { events } = await engine.entity('credential', 'cred-1');
    const issued = events[0]!.event;
    if (issued.type !== 'CredentialIssued') throw new Error('expected the issue first');

    const memo = new PeekMemo(store, 1 << 20);
    const peeked = await memo.peek('credential', 'cred-1');
    expect(peeked.issued).toEqual({ publicKey: issued.data.publicKey, certificate: der });
    expect(descriptorOf(peeked)).toMatchObject({ publicKey: issued.data.publicKey, certificate: der, fingerprint: issued.data.fingerprint });

    // What the entry holds beyond the snapshot's context (counted as the entity cache counts one) is the issue's strings.
    const held = ENTRY_OVERHEAD_BYTES + peeked.streamId.length + 2 * jsonLength(peeked.snapshot.context) + stringChars(peeked.issued);
    expect(memo.bytes).toBeGreaterThanOrEqual(held);
  });

  it('counts a longer certificate by its length at least, and keeps no issue for a credential with neither key nor certificate', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    const withDer = (chars: number) => ({ fingerprint: fingerprint(91), subject: 'CN=meter-1', notBefore: T0, notAfter: at(90), der: 'A'.repeat(chars) });
    await engine.execute(cmd.createSubscription());
    await engine.execute(cmd.registerNode('meter-1'));
    await engine.execute(cmd.issueCredential('cred-a', 'meter-1', at(90), { certificate: withDer(100) }));
    await engine.execute(cmd.issueCredential('cred-b', 'meter-1', at(90), { certificate: withDer(2_100) }));
    const bytesOf = async (credentialId: string): Promise<number> => {
      const memo = new PeekMemo(store, 1 << 20);
      await memo.peek('credential', credentialId);
      return memo.bytes;
    };
    // Same-length ids, so only the certificate differs (and the placeholder key, of one length for one kind).
    expect((await bytesOf('cred-b')) - (await bytesOf('cred-a'))).toBeGreaterThanOrEqual(2_000);

    const nodeMemo = new PeekMemo(store, 1 << 20);
    expect((await nodeMemo.peek('node', 'meter-1')).issued).toBeUndefined();
  });
});
