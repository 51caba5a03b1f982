import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { eventsDbRangeSource, eventsDbRangeSourceInDir } from '../adapters/driven/store/sqlite/events-db-reader.ts';
import { CheckpointFile } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { replayInWorkers } from '../adapters/replay-workers/pool.ts';
import { verifyFleet } from '../adapters/replay-workers/verify-fleet.ts';
import type { JsonObject } from '../domain/ports/event-store.ts';
import { replayAll } from '../projections/replay/index.ts';
import { dataDirs, forge } from './replay.fixtures.ts';
import { credentialRevokedBetweenClaimAndAppend } from './support/fact-claims.ts';
import { at, cmd, establishedFleet, issueCredentialData } from './support/fleet.ts';

/** A file-backed fleet of `nodes` meters with established associations, spread over the partitions. */
const fleetIn = (dir: string, nodes: number) => establishedFleet(nodes, openSqliteStoreInDir(dir));

describe('replay workers that read their own partition from the events file (no record crosses threads)', () => {
  const dataDir = dataDirs('credence-replay-own-partition-');

  it('gives the one-pass verdict, findings in order, on a fleet with violations across partitions', async () => {
    const dir = dataDir();
    const { engine, store } = await fleetIn(dir, 8);
    try {
      const orphan = await forge(store, 'credential-cred-x', 'CredentialIssued', issueCredentialData('cred-x', 'meter-404', { notBefore: at(0), notAfter: at(90) }) as JsonObject, at(2));
      await forge(store, 'association-sa-x', 'AssociationConfigured', {
        associationId: 'sa-x', nodeId: 'meter-3', credentialId: 'cred-x', registree: { kind: 'cse', id: '/cse-meter-3' }, registrarCseId: '/in-cse',
      }, at(3));
      await engine.execute(cmd.configureAssociation('sa-9', 'cred-5', 'meter-5'));
      await engine.execute(cmd.revokeCredential('cred-5'));
      await forge(store, 'association-sa-9', 'AssociationEstablished', { associationId: 'sa-9', expiresAt: at(20) }, at(4));
      await forge(store, 'node-meter-7', 'NodeRevoked', { nodeId: 'meter-7', reason: 'not-a-reason' }, at(4));
      const single = await replayAll(store);
      expect(single.findings[0]!.position).toBe(orphan.position);
      expect(single.findings).toHaveLength(4);
      const source = eventsDbRangeSourceInDir(dir);
      const two = await replayInWorkers(store, { workers: 2, source });
      expect(two.rounds).toBe(2);
      expect(two.replay).toEqual(single);
      expect((await replayInWorkers(store, { workers: 3, source })).replay).toEqual(single);
      // With onRecord (the checkpoint's digest) this thread reads every record too, exactly once, in order.
      const seen: bigint[] = [];
      const withDigest = await replayInWorkers(store, { workers: 2, source, onRecord: (r) => seen.push(r.position), keepState: true });
      expect(withDigest.replay).toEqual(single);
      expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => BigInt(i + 1)));
      expect(withDigest.source?.position).toBe(seen.at(-1));
    } finally {
      await store.close();
    }
  }, 120_000);

  it('routes a fact claim read as raw text to its claimant\'s partition, as the one-pass replay judges it', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    try {
      await credentialRevokedBetweenClaimAndAppend(store);
      const single = await replayAll(store);
      expect(single.findings).toEqual([]);
      const source = eventsDbRangeSourceInDir(dir);
      for (const workers of [2, 3, 4]) expect((await replayInWorkers(store, { workers, source })).replay).toEqual(single);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('refuses an events file that is not the store\'s log, naming the option, and reports each worker\'s CPU', async () => {
    const [a, b] = [dataDir(), dataDir()];
    const small = await fleetIn(a, 2);
    const large = await fleetIn(b, 3);
    try {
      await expect(replayInWorkers(small.store, { workers: 2, source: eventsDbRangeSourceInDir(b) })).rejects.toThrow(/options\.source: .* is not this store's log/);
      await expect(replayInWorkers(small.store, { workers: 2, source: { module: '', file: join(a, 'events.db') } })).rejects.toThrow(/options\.source: must name/);
      const own = await replayInWorkers(small.store, { workers: 2, source: eventsDbRangeSource(join(a, 'events.db')) });
      expect(own.replay).toEqual(await replayAll(small.store));
      if (process.platform === 'linux') {
        expect(own.workerCpuMs).toHaveLength(2);
        for (const ms of own.workerCpuMs!) expect(ms).toBeGreaterThan(0);
      }
    } finally {
      await small.store.close();
      await large.store.close();
    }
  }, 120_000);

  it('digests every record in the workers, chaining to the checkpoint digest of the one-thread verification', async () => {
    const dir = dataDir();
    const { store } = await fleetIn(dir, 6);
    try {
      const [single, workers] = [dataDir(), dataDir()].map((d) => new CheckpointFile(d));
      await verifyFleet(store, { checkpoint: single! });
      const parallel = await verifyFleet(store, { checkpoint: workers!, workers: 2, source: eventsDbRangeSourceInDir(dir) });
      expect(parallel.mode).toBe('full');
      const [a, b] = [single!.load(), workers!.load()];
      expect(a?.ok && b?.ok).toBe(true);
      if (a?.ok !== true || b?.ok !== true) return;
      expect(b.checkpoint.digest).toBe(a.checkpoint.digest);
      expect(b.checkpoint.lastRecord).toBe(a.checkpoint.lastRecord);
      expect(b.checkpoint.position).toBe(a.checkpoint.position);
      // The partitions' digests cover every row once: asked without a file to read, the pool refuses.
      await expect(replayInWorkers(store, { workers: 2, onRecordDigest: () => undefined })).rejects.toThrow(/options\.onRecordDigest: needs options\.source/);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('fails on a row damaged on disk, naming the column, as the store\'s own read does', async () => {
    const dir = dataDir();
    const { store } = await fleetIn(dir, 3);
    try {
      const db = new Database(join(dir, 'events.db'));
      db.prepare("UPDATE events SET data = '{not json' WHERE position = 5").run();
      db.close();
      const damaged = /invalid stored event at position 5: data: is not JSON/;
      await expect(replayAll(store)).rejects.toThrow(damaged);
      await expect(replayInWorkers(store, { workers: 2, source: eventsDbRangeSourceInDir(dir) })).rejects.toThrow(damaged);
    } finally {
      await store.close();
    }
  }, 120_000);
});
