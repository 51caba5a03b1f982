import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { KEY_CLAIMS_FILLED_STREAM } from '../adapters/driven/store/eventstoredb/key-claims.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { replayEntity } from '../projections/replay/index.ts';
import { forgedMetadata } from './replay.fixtures.ts';
import { at, issueCredentialData, placeholderKey, T0 } from './support/fleet.ts';
import { twoEnrolledMetersOnAStandIn } from './support/two-enrolled-meters-on-a-stand-in.ts';

/*
 * Review 204, finding 1. Read commands open the store to write nothing (docs/service.md). On EventStoreDB, entity
 * replay (`credence history`, `state --at`) asks which credential certified a key; on a log of a version before key
 * claims that lookup once started the one pass that appends the claims and its marker. Asked read-only, it answers
 * what the pass would (the key's first issuer in log order) from reads alone: $all's head does not move.
 */
const key = placeholderKey('a key two v3 credentials carry');

describe('a read-only history on an EventStoreDB log of keys certified before key claims', () => {
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const stop of stops) await stop();
  });

  it('writes nothing (no claim, no marker) and still refuses the second issue of the key', async () => {
    // Given a v3 log: meter-1 and meter-2 enrolled, cred-a then cred-b issued on one key, neither claiming it.
    const { standIn, store: v3 } = await twoEnrolledMetersOnAStandIn(stops);
    for (const [credential, node] of [['cred-a', 'meter-1'], ['cred-b', 'meter-2']] as const) {
      const data = { ...issueCredentialData(credential, node, { notBefore: T0, notAfter: at(90) }), ...key };
      await v3.appendToStream(`credential-${credential}`, [{ id: randomUUID(), type: 'CredentialIssued', data, metadata: forgedMetadata(randomUUID(), T0) }], {
        expectedRevision: ExpectedRevision.noStream,
      });
    }
    await v3.close();

    // When an auditor's command replays both credentials on a store it opened to read.
    const store = openEventStoreDbStore(standIn.connectionString);
    stops.push(() => store.close());
    const head = await store.headPosition();
    const a = await replayEntity(store, 'credential-cred-a');
    const b = await replayEntity(store, 'credential-cred-b');
    expect(await store.keyCertifiedBy!(key.fingerprint, { readOnly: true })).toBe('credential-cred-a');

    // Then the answers are the pass's, and nothing was written.
    expect(a.verdict).toEqual({ ok: true });
    expect(b.verdict.ok).toBe(false);
    expect(b.steps.find((s) => s.type === 'CredentialIssued')?.reason).toMatch(/keyNeverCertified|certified/);
    expect(await store.headPosition()).toBe(head);
    expect(standIn.log.stream(KEY_CLAIMS_FILLED_STREAM)).toBeUndefined();
    expect(standIn.log.stream(`credence-key-${key.fingerprint}`)).toBeUndefined();
  }, 60_000);
});
