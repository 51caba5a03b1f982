import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { findingsByNewerRules, replayAll } from '../projections/replay/index.ts';
import { forge, forgedMetadata } from './replay.fixtures.ts';
import { at, cmd, issueCredentialData, placeholderKey, T0 } from './support/fleet.ts';
import { twoEnrolledMetersOnAStandIn } from './support/two-enrolled-meters-on-a-stand-in.ts';

/*
 * SER-010 on EventStoreDB (review 201, finding 1). A version before machines v4 appended CredentialIssued without
 * claiming its key on `credence-key-<fingerprint>`. A v4 store fills in the missing claims from the log before it
 * answers `keyCertifiedBy` or certifies a key, so a v4 issue of that key to another node is refused by
 * keyNeverCertified, and nothing stored breaks a newer rule.
 */
const key = placeholderKey('a key a v3 engine certified');

describe('a key certified before key claims existed, on the EventStoreDB stand-in', () => {
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const stop of stops) await stop();
  });

  /**
   * A stand-in (stopped after the suite) whose log has meter-1 and meter-2 enrolled and cred-a's issue of `key` to
   * meter-1 as a v3 engine appended it: the event, no claim of its key. The store that wrote them, still open.
   */
  const certifiedByAV3Engine = async () => {
    const { standIn, store: v3 } = await twoEnrolledMetersOnAStandIn(stops);
    await forge(v3, 'credential-cred-a', 'CredentialIssued', { ...issueCredentialData('cred-a', 'meter-1', { notBefore: T0, notAfter: at(90) }), ...key }, T0);
    return { standIn, v3 };
  };

  it('is claimed from the log, so a v4 issue of it to another node is refused and replay finds nothing newer-rule', async () => {
    const { standIn, v3 } = await certifiedByAV3Engine();
    await v3.close();

    const store = openEventStoreDbStore(standIn.connectionString);
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    expect(await store.keyCertifiedBy!(key.fingerprint)).toBe('credential-cred-a');
    const refused = await engine.execute(cmd.issueCredential('cred-b', 'meter-2', at(90), key)).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isCredenceError(refused), 'the second issue is refused').toBe(true);
    expect((refused as { problem: unknown }).problem).toMatchObject({ code: 'illegal_transition', rule: 'keyNeverCertified' });
    expect(await store.readStream('credential-cred-b')).toHaveLength(0);

    const replay = await replayAll(store);
    expect(replay.findings).toEqual([]);
    expect(findingsByNewerRules(replay.findings)).toBe(0);

    // A later open finds the claims filled in (its marker) and reads the same answer.
    const again = openEventStoreDbStore(standIn.connectionString);
    expect(await again.keyCertifiedBy!(key.fingerprint)).toBe('credential-cred-a');
    await again.close();
    await store.close();
  }, 60_000);

  it('is claimed again for its first issue when a claim named a later one (an engine that issued it before the claims were filled in)', async () => {
    const { standIn, v3 } = await certifiedByAV3Engine();
    // What a v4 store before this fix wrote: cred-b's issue on the same key, with the key's only claim.
    await v3.appendToStream('credential-cred-b', [{ id: randomUUID(), type: 'CredentialIssued', data: { ...issueCredentialData('cred-b', 'meter-2', { notBefore: T0, notAfter: at(90) }), ...key }, metadata: forgedMetadata(randomUUID(), T0) }], {
      expectedRevision: ExpectedRevision.noStream,
    });
    await v3.appendToStream(`credence-key-${key.fingerprint}`, [{ id: randomUUID(), type: 'CredenceFactClaimed', data: { claimant: 'credential-cred-b', commandId: 'c' }, metadata: {} }], {
      expectedRevision: ExpectedRevision.noStream,
    });
    await v3.close();

    const store = openEventStoreDbStore(standIn.connectionString);
    expect(await store.keyCertifiedBy!(key.fingerprint)).toBe('credential-cred-a');
    const onB = (await replayAll(store)).findings.filter((f) => f.streamId === 'credential-cred-b');
    expect(onB.map((f) => f.rule)).toEqual(['keyNeverCertified']);
    await store.close();
  }, 60_000);
});
