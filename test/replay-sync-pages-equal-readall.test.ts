import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore, openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import { FleetVerifier, verifyFrom, type FleetReplay } from '../projections/replay/index.ts';
import { syncPagesOnly, withoutSyncPages } from './support/sync-pages.ts';
import { at, cmd, establishMeter, fixture } from './support/fleet.ts';
import { dataDirs, forge } from './replay.fixtures.ts';
import { collect } from './store-conformance/helpers.ts';

/**
 * The replay reads the embedded store's pages synchronously (`readAllPagesSync`, issue 15 item 4) and any other store
 * through `readAll`. Both must give the same verdict, findings, position and records seen, on a broken history too.
 */

const run = async (store: EventStore, verifier = new FleetVerifier()) => {
  const seen: bigint[] = [];
  let progress = 0;
  await verifyFrom(store, verifier, { onRecord: (r) => seen.push(r.position), onProgress: () => progress++ });
  return { verifier, verdict: verifier.verdict(), seen, progress };
};

/** A fleet whose history is broken in several ways: cross-entity, after a final state, unreadable data. */
const brokenFleet = async (store: EventStore): Promise<bigint[]> => {
  const { engine } = fixture(store);
  await engine.execute(cmd.createSubscription());
  for (let n = 1; n <= 3; n++) {
    await engine.execute(cmd.registerNode(`meter-${n}`));
    await establishMeter(engine, n);
  }
  await engine.execute(cmd.configureAssociation('sa-9'));
  await engine.execute(cmd.revokeCredential());
  const broken = [
    await forge(store, 'association-sa-9', 'AssociationEstablished', { associationId: 'sa-9', expiresAt: at(20) }, at(1)),
    await forge(store, 'credential-cred-1', 'CredentialProvisioned', { credentialId: 'cred-1', method: 'pre-provisioning' }, at(2)),
    await forge(store, 'node-meter-2', 'NodeRevoked', { nodeId: 'meter-2', reason: 'not-a-reason' }, at(3)),
  ];
  return broken.map((b) => b.position);
};

const summary = (v: FleetReplay) => ({ ...v, findings: v.findings.map((f) => ({ ...f })) });

describe('replay over synchronous pages', () => {
  const dir = dataDirs('credence-sync-pages-');

  it('gives the same verdict, findings and records as readAll on a broken history, across page boundaries', async () => {
    // A page of 3 records: every page boundary of the store falls inside the history.
    const store = openSqliteStore({ memory: true, pageSize: 3 });
    const broken = await brokenFleet(store);
    const pages: number[] = [];
    const viaPages = await run(syncPagesOnly(store, pages));
    const viaReadAll = await run(withoutSyncPages(store));

    expect(pages.length).toBeGreaterThan(3);
    expect(pages.every((n) => n >= 1 && n <= 3)).toBe(true);
    expect(summary(viaPages.verdict)).toEqual(summary(viaReadAll.verdict));
    expect(viaPages.verdict.findings.map((f) => f.position)).toEqual(broken);
    expect(viaPages.verdict.brokenStreams).toEqual(['association-sa-9', 'credential-cred-1', 'node-meter-2']);
    expect(viaPages.seen).toEqual(viaReadAll.seen);
    expect(viaPages.seen).toEqual((await collect(store.readAll())).map((r) => r.position));
    expect(viaPages.verifier.position).toBe(await store.headPosition());
    expect(viaPages.verifier.position).toBe(viaReadAll.verifier.position);
    expect(viaPages.progress).toBe(viaReadAll.progress);
    await store.close();
  });

  it('continues from a checkpoint position to the same verdict as readAll, reading only the new records', async () => {
    const store = openSqliteStore({ memory: true, pageSize: 2 });
    const { engine } = fixture(store);
    await engine.execute(cmd.createSubscription());
    await engine.execute(cmd.registerNode('meter-1'));
    await establishMeter(engine, 1);
    const first = await run(store);
    const second = await run(withoutSyncPages(store));
    const checkpoint = first.verifier.position;
    expect(first.verdict.findings).toEqual([]);

    await engine.execute(cmd.configureAssociation('sa-9'));
    await engine.execute(cmd.revokeCredential());
    const { position } = await forge(store, 'association-sa-9', 'AssociationEstablished', { associationId: 'sa-9', expiresAt: at(20) }, at(1));
    const tailViaPages = await run(store, first.verifier);
    const tailViaReadAll = await run(withoutSyncPages(store), second.verifier);

    expect(tailViaPages.seen).toEqual(tailViaReadAll.seen);
    expect(tailViaPages.seen.every((p) => p > checkpoint)).toBe(true);
    expect(tailViaPages.seen.at(-1)).toBe(position);
    expect(summary(tailViaPages.verdict)).toEqual(summary(tailViaReadAll.verdict));
    expect(tailViaPages.verdict.findings.map((f) => [f.streamId, f.position])).toEqual([['association-sa-9', position]]);
    await store.close();
  });

  it('returns exactly readAll\'s records for the same options, in pages no larger than the store\'s', async () => {
    const store = openSqliteStore({ memory: true, pageSize: 4 });
    await brokenFleet(store);
    const head = (await store.headPosition())!;
    const requests = [
      {},
      { afterPosition: 5n },
      { afterPosition: 3n, maxCount: 9 },
      { filter: { streamPrefixes: ['credential-', 'association-'] } },
      { filter: { eventTypes: ['NodeRegistered', 'CredentialRevoked'] }, maxCount: 3 },
      { afterPosition: head },
    ];
    for (const request of requests) {
      const pages = [...store.readAllPagesSync(request)];
      expect(pages.every((p) => p.length >= 1 && p.length <= 4)).toBe(true);
      expect(pages.flat()).toEqual(await collect(store.readAll(request)));
    }
    await store.close();
  });

  it('refuses what readAll refuses, with the same errors: bad arguments, a closed store, a damaged row', async () => {
    const folder = dir();
    const store = openSqliteStoreInDir(folder, { durability: 'normal' });
    const positions = await brokenFleet(store);
    const errorOf = async (read: () => Promise<unknown>): Promise<Error> => {
      const error = await read().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      return error as Error;
    };
    const sync = (options: Parameters<EventStore['readAll']>[0]) => async () => [...store.readAllPagesSync(options)];
    const async = (options: Parameters<EventStore['readAll']>[0]) => async () => collect(store.readAll(options));
    for (const bad of [{ afterPosition: 1 as unknown as bigint }, { maxCount: -1 }, { maxCount: 1.5 }, { filter: { eventTypes: [] } }]) {
      expect((await errorOf(sync(bad))).message).toBe((await errorOf(async(bad))).message);
    }

    // A row damaged outside the store: the replay stops on the boundary parse by either path, naming the position.
    const damaged = positions[0]!;
    const raw = new Database(join(folder, 'events.db'));
    raw.prepare("UPDATE events SET data = '[not json' WHERE position = ?").run(damaged);
    raw.close();
    const viaPages = await errorOf(() => run(store));
    const viaReadAll = await errorOf(() => run(withoutSyncPages(store)));
    expect(isCredenceError(viaPages, 'validation')).toBe(true);
    expect(viaPages.message).toBe(viaReadAll.message);
    expect(viaPages.message).toContain(`stored event at position ${damaged}`);

    await store.close();
    const closed = await errorOf(sync({}));
    expect(closed.message).toBe((await errorOf(async({}))).message);
    expect(closed.message).toContain('closed');
  });

  it('a store without synchronous pages is replayed through readAll', async () => {
    const store = openSqliteStore({ memory: true });
    const broken = await brokenFleet(store);
    const bare = withoutSyncPages(store);
    expect(bare.readAllPagesSync).toBeUndefined();
    const { verdict } = await run(bare);
    expect(verdict.findings.map((f) => f.position)).toEqual(broken);
    expect(verdict.findings.at(-1)?.reason).toMatch(/^unreadable: data: reason/);
    await store.close();
  });
});
