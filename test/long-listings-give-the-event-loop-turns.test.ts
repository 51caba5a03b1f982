import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { memoryCrlNumbers } from '../adapters/driven/pki/crl-numbers.ts';
import { openCommittedReadModel } from '../adapters/runtime/pki-committed.ts';
import { CrlListing } from '../adapters/runtime/pki-crl-listing.ts';
import { DEFAULT_CRL_VALIDITY_MS } from '../adapters/runtime/pki-crl-publisher-options.ts';
import type { RecordedEvent } from '../domain/ports/event-store.ts';
import type { LoggedLeaf, StreamSlot } from '../domain/ports/transparency-log.ts';
import { eventLeafHash } from '../domain/transparency/leaf.ts';
import { revokedCertificateDer } from '../domain/x509/revocation/index.ts';
import { recordRevocation, setupPkiTables } from '../projections/pki/tables.ts';
import { setupCheckpoints } from '../projections/runtime/checkpoints.ts';
import { testCa } from './support/pki-test-ca.ts';
import { indexLegacyLeaves } from '../projections/transparency/stream-index.ts';

// Two walks over every row of a large folder ran as one synchronous run (the embedded store and the read model answer
// synchronously; an `await` on them is a microtask): a CA's whole CRL listing at a start or a rebuild (pages of 100,000
// revocations, then loops over all of them), and the migration that enters a legacy transparency log's leaves into
// its stream index. Probes, requests and OCSP answers waited for as long as either ran. Both now let the event loop
// turn every few thousand rows, and list what they listed before.

/** How many turns of the event loop `work` let run: a setImmediate that counts and schedules itself again. */
const turnsDuring = async <T>(work: () => Promise<T>): Promise<{ readonly value: T; readonly turns: number }> => {
  let turns = 0;
  let done = false;
  const turn = (): void => {
    if (done) return;
    turns++;
    setImmediate(turn);
  };
  setImmediate(turn);
  const value = await work();
  done = true;
  return { value, turns };
};

const REVOKED = 20_000;

const REVOKED_AT = Date.parse('2026-06-01T00:00:00.000Z');
const revoked = Array.from({ length: REVOKED }, (_, i) => {
  const serialNumber = (0x100000 + i).toString(16);
  return { serialNumber, entry: revokedCertificateDer({ serialNumber, revokedAt: REVOKED_AT, reason: 'superseded' }) };
});

/** A read model whose CA `ca-big` revoked REVOKED certificates, in memory (committed reads on the same connection). */
const bigRevocationList = (): Database.Database => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  setupCheckpoints(db);
  setupPkiTables(db);
  db.transaction(() => {
    for (const [i, { serialNumber, entry }] of revoked.entries()) {
      recordRevocation(db, {
        caId: 'ca-big', serialNumber, credentialId: `cred-${i}`, revokedAt: new Date(REVOKED_AT).toISOString(), reason: 'superseded',
        notAfter: '2036-01-01T00:00:00.000Z', entry,
      });
    }
  })();
  return db;
};

describe('a CA whose CRL lists many revocations', () => {
  it('lets the event loop turn while its whole list is read and listed, and lists every revocation once', async () => {
    const db = bigRevocationList();
    const reads = openCommittedReadModel(db);
    const listing = new CrlListing(
      { reads, ca: await testCa('ca-big'), urls: { deltaCrl: 'http://127.0.0.1:9/pki/ca-big/delta-crl' }, numbers: memoryCrlNumbers(() => Date.now()), now: () => Date.now() },
      DEFAULT_CRL_VALIDITY_MS,
    );

    const { value: caught, turns } = await turnsDuring(() => listing.catchUp());

    expect(turns).toBeGreaterThanOrEqual(3);
    expect(caught).toEqual({ ok: true, added: REVOKED, reloaded: true, raised: [], notInLog: [], marksTakenBack: false });
    expect(listing.entries.count).toBe(REVOKED);
    expect(Buffer.from(listing.entries.from(0)).equals(Buffer.concat(revoked.map((r) => r.entry)))).toBe(true);
    reads.close();
    db.close();
  }, 60_000);
});

describe('a transparency log written before the stream index, over many events', () => {
  const EVENTS = 10_000;
  const events: RecordedEvent[] = Array.from({ length: EVENTS }, (_, i) => ({
    id: `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}`,
    streamId: `node-${i % 50}`,
    revision: BigInt(Math.floor(i / 50)),
    position: BigInt(i + 1),
    type: 'NodeEnrolled',
    data: { nodeId: `node-${i % 50}` },
    metadata: {},
  }));

  it('lets the event loop turn while its leaves are entered in the index, and enters each one', async () => {
    const leaves: LoggedLeaf[] = events.map((e, i) => ({ leafIndex: i, position: e.position, eventId: e.id, leafHash: eventLeafHash(e) }));
    const indexed: ({ leafIndex: number } & StreamSlot)[] = [];
    const store = {
      readAll: (options: { afterPosition?: bigint }) => ({
        async *[Symbol.asyncIterator]() {
          for (const e of events) if (options.afterPosition === undefined || e.position > options.afterPosition) yield e;
        },
      }),
    };
    const log = {
      firstUnindexedLeaf: () => leaves[0],
      leafAt: (i: number) => leaves[i],
      leafByPosition: (position: bigint) => leaves[Number(position) - 1],
      lastPosition: () => events[EVENTS - 1]!.position,
      indexLeaves: (slots: readonly ({ leafIndex: number } & StreamSlot)[]) => void indexed.push(...slots),
    };

    const { value: count, turns } = await turnsDuring(() => indexLegacyLeaves({ store, log }));

    expect(turns).toBeGreaterThanOrEqual(3);
    expect(count).toBe(EVENTS);
    expect(indexed).toEqual(events.map((e, i) => ({ leafIndex: i, streamId: e.streamId, revision: e.revision })));
  }, 60_000);
});
