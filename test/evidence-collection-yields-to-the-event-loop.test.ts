import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { openTransparencyLog } from '../adapters/driven/transparency/index.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { verifyEvidenceBundle } from '../domain/transparency/index.ts';
import { collectEvidence, LEAVES_PER_TURN, TransparencyProjection } from '../projections/transparency/index.ts';
import { eventId, fixedSigner, keyOf, ORIGIN } from './transparency-fixtures.ts';

/**
 * Found in review: the evidence bundle of a stream of 20,000 events was built and every inclusion proof verified in
 * one synchronous block (7.3 s of blocked event loop), so every other caller waited or was shed. Collection now lets
 * the event loop turn every LEAVES_PER_TURN leaves: a callback scheduled when it starts runs before it ends.
 */
describe('evidence collection yields to the event loop', () => {
  it('runs a setImmediate callback scheduled at its start before it ends, and the bundle still verifies', async () => {
    const store = openSqliteStore({ memory: true });
    const log = openTransparencyLog({ memory: true });
    const signer = fixedSigner();
    const projection = new TransparencyProjection({ store, log, signer, origin: ORIGIN, now: () => new Date('2026-03-01T00:00:00Z'), checkpointEveryLeaves: 1_000_000, checkpointEveryMs: 0 });
    const STREAM = 'node-meter-1';
    const count = LEAVES_PER_TURN * 2 + 1;
    await store.appendToStream(
      STREAM,
      Array.from({ length: count }, (_, i) => ({ id: eventId(i), type: 'NodeEnrolled', data: { index: i }, metadata: { actor: 'operator-1' } })),
      { expectedRevision: ExpectedRevision.noStream },
    );
    await projection.catchUp();
    await projection.checkpoint();

    // Given the log and the store are ready, when the bundle is collected, then a callback queued behind the
    // current turn runs while it is being built.
    const streamEvents = await store.readStream(STREAM);
    const turns: string[] = [];
    const exported = collectEvidence({ streamId: STREAM, streamEvents, log, signer }).then((e) => {
      turns.push('collected');
      return e;
    });
    setImmediate(() => turns.push('other work'));
    const { bundle } = await exported;
    expect(turns).toEqual(['other work', 'collected']);
    expect(verifyEvidenceBundle(bundle, { trustedKey: keyOf(signer) })).toMatchObject({ ok: true, streamId: STREAM, events: count });
    await store.close();
  });
});
