import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { CheckpointFile } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { verifyFleet } from '../adapters/replay-workers/verify-fleet.ts';
import { replayAll } from '../projections/replay/index.ts';
import { main } from '../bin/cli.ts';
import { at, cmd, establishOne, fixture } from './support/fleet.ts';
import { dataDirs, forge } from './replay.fixtures.ts';
import { capture } from './support/cli.ts';

describe('incremental replay from a checkpoint in the data folder', () => {
  const dataDir = dataDirs('credence-replay-inc-');

  it('verifies only the events after the checkpoint and gives the verdict of a full replay', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    const { engine } = fixture(store);
    await establishOne(engine);
    const checkpoint = new CheckpointFile(dir);
    const first = await verifyFleet(store, { checkpoint });
    expect(first).toMatchObject({ mode: 'full', verifiedNow: 7 });
    expect(existsSync(checkpoint.path)).toBe(true);

    await engine.execute(cmd.registerNode('meter-2'));
    await engine.execute(cmd.enrolNode('meter-2'));
    await engine.execute(cmd.issueCredential('cred-2', 'meter-2'));
    await engine.execute(cmd.revokeAssociation());
    const next = await verifyFleet(store, { checkpoint });
    expect(next).toMatchObject({ mode: 'incremental', verifiedNow: 4, from: first.replay.events > 0 ? expect.any(BigInt) : 0n });
    expect(next.replay).toEqual(await replayAll(store));
    // A third run with nothing new verifies nothing and still says the same.
    const again = await verifyFleet(store, { checkpoint });
    expect(again).toMatchObject({ mode: 'incremental', verifiedNow: 0 });
    expect(again.replay).toEqual(next.replay);
    await store.close();
  });

  it('flags an invalid new event incrementally, cross-entity guards included, and keeps earlier findings', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    const { engine } = fixture(store);
    await establishOne(engine);
    await engine.execute(cmd.configureAssociation('sa-2'));
    const checkpoint = new CheckpointFile(dir);
    const bad1 = await forge(store, 'node-meter-1', 'NodeRevoked', { nodeId: 'meter-1', reason: 'not-a-reason' }, at(1));
    await verifyFleet(store, { checkpoint });
    // The credential is revoked after the checkpoint, then an association is established on it: the checkpoint's
    // snapshots must carry sa-2's state and the credential's for the guard to refuse it.
    await engine.execute(cmd.revokeCredential());
    const bad2 = await forge(store, 'association-sa-2', 'AssociationEstablished', { associationId: 'sa-2', expiresAt: at(20) }, at(2));
    const next = await verifyFleet(store, { checkpoint });
    expect(next.mode).toBe('incremental');
    expect(next.replay.findings.map((f) => [f.position, f.reason])).toEqual([
      [bad1.position, expect.stringMatching(/^unreadable: data: reason/)],
      [bad2.position, expect.stringMatching(/^AssociationEstablished refused in state initialized by rule credentialUsable: association sa-2 .*; credential cred-1 is revoked$/)],
    ]);
    expect(next.replay).toEqual(await replayAll(store));
    await store.close();
  });

  it('--full catches an event altered behind the checkpoint, which an incremental run cannot see', async () => {
    const dir = dataDir();
    let store = openSqliteStoreInDir(dir);
    const { engine } = fixture(store);
    await establishOne(engine);
    await store.close();
    const ok = capture();
    expect(await main(['replay', '--data', dir], ok.io)).toBe(0);

    // Rewrite who did an early event, in place: still a legal history, so the machines alone cannot tell.
    const db = new Database(join(dir, 'events.db'));
    db.prepare(`UPDATE events SET metadata = json_set(metadata, '$.actor.id', 'operator:mallory') WHERE position = 3`).run();
    db.close();
    store = openSqliteStoreInDir(dir);
    const { engine: later } = fixture(store);
    await later.execute(cmd.registerNode('meter-2'));
    await store.close();

    const incremental = capture();
    expect(await main(['replay', '--data', dir], incremental.io)).toBe(0);
    expect(incremental.out[0]).toMatch(/replayed 8 events \(1 new after the checkpoint at position 7/);

    const full = capture();
    expect(await main(['replay', '--data', dir, '--full', '--json'], full.io)).toBe(1);
    const report = JSON.parse(full.out.join('\n'));
    expect(report.ok).toBe(false);
    expect(report.findings).toEqual([]);
    expect(report.verification).toMatchObject({ mode: 'full', altered: { position: '8', reason: expect.stringMatching(/up to position 8 is not the one verified/) } });
    // The checkpoint of the verified history is kept, so the alteration is reported again, with workers too.
    const twice = capture();
    expect(await main(['replay', '--data', dir, '--full', '--workers', '2'], twice.io)).toBe(1);
    expect(twice.out.join('\n')).toMatch(/history altered: the stored history up to position 8/);
  }, 60_000);

  it('verifies in full when the record the checkpoint ends on was altered, and says why', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    const { engine } = fixture(store);
    await establishOne(engine);
    const checkpoint = new CheckpointFile(dir);
    await verifyFleet(store, { checkpoint });
    const db = new Database(join(dir, 'events.db'));
    db.prepare(`UPDATE events SET metadata = json_set(metadata, '$.actor.id', 'operator:mallory') WHERE position = 7`).run();
    db.close();
    const next = await verifyFleet(store, { checkpoint });
    expect(next.mode).toBe('full');
    expect(next.notes).toEqual([expect.stringMatching(/the record at position 7 it ends on was altered; verified in full/), expect.stringMatching(/kept/)]);
    expect(next.altered?.position).toBe(7n);
    await store.close();
  });

  it('ignores an unreadable checkpoint file with a note and verifies in full', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    await establishOne(fixture(store).engine);
    const checkpoint = new CheckpointFile(dir);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(checkpoint.path, JSON.stringify({ format: 2, position: 'seven' }));
    const result = await verifyFleet(store, { checkpoint });
    expect(result.mode).toBe('full');
    expect(result.notes[0]).toMatch(/checkpoint ignored: .*position/);
    expect((await verifyFleet(store, { checkpoint })).mode).toBe('incremental');
    // Nesting no checkpoint has is refused before any schema walks it.
    writeFileSync(checkpoint.path, `{"format":2,"entities":${'['.repeat(40)}${']'.repeat(40)}}`);
    const deep = await verifyFleet(store, { checkpoint });
    expect(deep.mode).toBe('full');
    expect(deep.notes[0]).toMatch(/checkpoint ignored: .*nested deeper than 22 levels/);
    await store.close();
  });
});
