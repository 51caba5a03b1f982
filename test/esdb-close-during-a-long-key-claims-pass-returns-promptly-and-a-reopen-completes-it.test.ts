import { createHash, randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { KEY_CLAIMS_FILLED_STREAM } from '../adapters/driven/store/eventstoredb/key-claims.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { startStandIn } from './esdb-standin/index.ts';

/*
 * Review 204, finding 2. The key claims pass over a large log takes long; a service stopped meanwhile must not wait
 * for its end (SIGTERM has a grace). close() stops it after the claims in flight, writes no marker, and a later open
 * resumes: claims are idempotent, the marker is written only once every key is claimed.
 */
const KEYS = 640;
const CLAIM_REPLY_MS = 300;
const fingerprintOf = (i: number): string => `sha256:${createHash('sha256').update(`key ${i}`).digest('hex')}`;
const claimOf = (i: number): string => `credence-key-${fingerprintOf(i)}`;

describe('close during a long key claims pass on EventStoreDB', () => {
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const stop of stops) await stop();
  });

  it('returns promptly, leaves no marker, and a reopen completes the claims', async () => {
    let claimReplyMs = 0;
    const standIn = await startStandIn({ appendReplyDelayMs: (streamId) => (streamId.startsWith('credence-key-') ? claimReplyMs : 0) });
    stops.push(() => standIn.stop());
    // Given a log of KEYS keys a v3 engine certified (issues without claims).
    const v3 = openEventStoreDbStore(standIn.connectionString);
    for (let from = 0; from < KEYS; from += 64) {
      await Promise.all(
        Array.from({ length: Math.min(64, KEYS - from) }, (_, j) =>
          v3.appendToStream(`credential-c${from + j}`, [{ id: randomUUID(), type: 'CredentialIssued', data: { fingerprint: fingerprintOf(from + j) }, metadata: {} }], {
            expectedRevision: ExpectedRevision.noStream,
          }),
        ),
      );
    }
    await v3.close();

    // When an engine's lookup starts the pass on a slow server, and the store is closed once its first claim is written.
    claimReplyMs = CLAIM_REPLY_MS;
    const store = openEventStoreDbStore(standIn.connectionString);
    const lookup = store.keyCertifiedBy!(fingerprintOf(0)).then(
      () => 'answered',
      () => 'refused',
    );
    while (standIn.log.stream(claimOf(0)) === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    const progress = store.keyClaimsFilling?.();
    const closing = performance.now();
    await store.close();

    // Then close outlasts only the claims in flight, the lookup is refused, and no marker says the pass completed.
    expect(performance.now() - closing).toBeLessThan(4 * CLAIM_REPLY_MS);
    expect(progress?.[0]?.name, 'the pass says how far it is').toMatch(/^key claims \(\d+ of 640 keys claimed\)$/);
    expect(await lookup).toBe('refused');
    expect(standIn.log.stream(KEY_CLAIMS_FILLED_STREAM)).toBeUndefined();
    const claimedBeforeClose = Array.from({ length: KEYS }, (_, i) => standIn.log.stream(claimOf(i))).filter((s) => s !== undefined).length;
    expect(claimedBeforeClose).toBeLessThan(KEYS);

    // And a later open resumes: every key claimed for its issuer, then the marker.
    claimReplyMs = 0;
    const again = openEventStoreDbStore(standIn.connectionString);
    stops.push(() => again.close());
    expect(await again.keyCertifiedBy!(fingerprintOf(KEYS - 1))).toBe(`credential-c${KEYS - 1}`);
    for (let i = 0; i < KEYS; i++) expect(standIn.log.stream(claimOf(i))?.length, claimOf(i)).toBe(1);
    expect(standIn.log.stream(KEY_CLAIMS_FILLED_STREAM)).toHaveLength(1);
    expect(again.keyClaimsFilling?.()).toEqual([]);
  }, 30_000);
});
