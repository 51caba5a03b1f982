import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { TransparencyLogAltered } from '../domain/ports/index.ts';
import { formatCheckpointText, formatVerifierKey } from '../domain/transparency/index.ts';
import { collectEvidence, exportEvidence, signNote, TransparencyLogForked, TransparencyProjection } from '../projections/transparency/index.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { capture } from './support/cli.ts';
import { rewriteBothFiles } from './support/rewritten-history.ts';
import { ORIGIN, appendEvents, fixedSigner, keyOf, tempDirs, auditDataDir } from './transparency-fixtures.ts';

/*
 * SER-003, found in review. Someone who can write the data folder but not use the log key (it is in the Secure
 * Environment) rewrote an event in events.db, its leaf and the stored subtree hashes in transparency.db, and the
 * service's next checkpoint signed the forged history with the genuine key; the audit compared the files with that
 * latest checkpoint only, and passed. And one planted checkpoint row, an old note under a huge tree size, stopped
 * every later signature and froze evidence bundles at the old tree.
 */

const dirs = tempDirs();
afterEach(() => dirs.cleanup());
const signer = fixedSigner();
const clock = new FakeClock();

const open = (dir: string) => {
  const store = openSqliteStoreInDir(dir);
  const log = openTransparencyLogInDir(dir);
  const projection = new TransparencyProjection({ store, log, signer, origin: ORIGIN, now: () => clock.now(), checkpointEveryMs: 0 });
  return { store, log, projection, close: async () => (await store.close(), log.close()) };
};

/** 10 events logged under a signed checkpoint. */
const signedFolder = async (): Promise<string> => {
  const dir = dirs.make();
  const o = open(dir);
  await appendEvents(o.store, 10);
  await o.projection.catchUp();
  await o.projection.checkpoint();
  await o.close();
  return dir;
};

const audit = (dir: string) => auditDataDir(dir, signer);

describe('a history rewritten in both files', () => {
  it('is not signed by the log key: the next checkpoint is refused, and nothing is logged as signed', async () => {
    const dir = await signedFolder();
    rewriteBothFiles(dir);
    const o = open(dir);
    try {
      await appendEvents(o.store, 1, 10);
      await o.projection.catchUp();
      await expect(o.projection.checkpoint()).rejects.toThrow(TransparencyLogForked);
      await expect(o.projection.checkpoint()).rejects.toThrow(/first 10 leaves no longer hash to the checkpoint this key signed/);
      expect(o.log.latestCheckpoint()?.treeSize).toBe(10);
      // Nor on demand for an evidence bundle.
      await expect(exportEvidence({ streamId: 'credential-meter-1', store: o.store, projection: o.projection, log: o.log, signer })).rejects.toThrow(TransparencyLogForked);
    } finally {
      await o.close();
    }
  });

  it('is found by the audit at an earlier checkpoint the key signed, even once a later one signs the forgery', async () => {
    const dir = await signedFolder();
    rewriteBothFiles(dir);
    const o = open(dir);
    await appendEvents(o.store, 1, 10);
    await o.projection.catchUp();
    // What an earlier version signed: the forged tree's root under the genuine key, kept as the latest checkpoint.
    const time = clock.now().toISOString();
    const rootHash = o.log.rootHash(11);
    o.log.saveCheckpoint({ treeSize: 11, rootHash, time, note: await signNote(signer, formatCheckpointText({ origin: ORIGIN, treeSize: 11, rootHash, time })) });
    await o.close();
    expect(await audit(dir)).toMatchObject({ ok: false, kind: 'forked', position: 10n });
  });

  it('leaves an honest log signing on: a later checkpoint that extends the last is signed', async () => {
    const dir = await signedFolder();
    const o = open(dir);
    try {
      await appendEvents(o.store, 3, 10);
      await o.projection.catchUp();
      expect((await o.projection.checkpoint()).treeSize).toBe(13);
    } finally {
      await o.close();
    }
    expect(await audit(dir)).toMatchObject({ ok: true, checkedEvents: 13, signedThrough: 13 });
  });
});

describe('a checkpoint row that says something its note does not', () => {
  it('is refused by every reader, so no bundle is frozen at an old tree and the audit names it', async () => {
    const dir = await signedFolder();
    const db = new Database(join(dir, 'transparency.db'));
    db.exec(`INSERT INTO checkpoints (tree_size, root_hash, time, note) SELECT 1125899906842624, root_hash, time, note FROM checkpoints WHERE tree_size = 10`);
    db.close();
    const o = open(dir);
    try {
      expect(() => o.log.latestCheckpoint()).toThrow(TransparencyLogAltered);
      expect(() => o.log.latestCheckpoint()).toThrow(/checkpoint row of tree size 1125899906842624 does not say what its signed note says/);
      await appendEvents(o.store, 2, 10);
      await expect(o.projection.catchUp()).rejects.toThrow(TransparencyLogAltered);
      await expect(exportEvidence({ streamId: 'credential-meter-1', store: o.store, projection: o.projection, log: o.log, signer })).rejects.toThrow(TransparencyLogAltered);
    } finally {
      await o.close();
    }
    expect(await audit(dir)).toMatchObject({ ok: false, kind: 'log_mismatch', message: expect.stringContaining('does not say what its signed note says') });
  });

  it('is refused when it signs more leaves than the file holds', async () => {
    const dir = await signedFolder();
    const o = open(dir);
    const stored = o.log.latestCheckpoint()!;
    const note = await signNote(signer, formatCheckpointText({ origin: ORIGIN, treeSize: 50, rootHash: stored.rootHash, time: stored.time }));
    o.log.saveCheckpoint({ ...stored, treeSize: 50, note });
    try {
      expect(() => o.log.latestCheckpoint()).toThrow(/a checkpoint signs 50 leaves, but the log holds 10/);
    } finally {
      await o.close();
    }
  });
});

describe('credence verify --data', () => {
  it('says TAMPERED, exit 1, when a stored subtree hash of the log is gone (it was a usage error)', async () => {
    const dir = await signedFolder();
    const db = new Database(join(dir, 'transparency.db'));
    db.exec('DELETE FROM nodes WHERE level = 3');
    db.close();
    const c = capture();
    expect(await verifyCommand(['--data', dir, '--key', formatVerifierKey(keyOf(signer))], c.io)).toBe(1);
    expect(c.err.join('\n')).toMatch(/^TAMPERED: log_mismatch: the transparency log file was altered: the stored subtree \(3, 0\) of its 10 leaves is missing/m);
  });
});

describe('found in review of the fix', () => {
  it('signs on when another process (credence export beside the service) logged and signed ahead of this one', async () => {
    const dir = await signedFolder();
    const service = open(dir);
    const cliLog = openTransparencyLogInDir(dir);
    try {
      await appendEvents(service.store, 2, 10);
      const cli = new TransparencyProjection({ store: service.store, log: cliLog, signer, origin: ORIGIN, now: () => clock.now(), checkpointEveryMs: 0 });
      await exportEvidence({ streamId: 'credential-meter-1', store: service.store, projection: cli, log: cliLog, signer });
      expect(cliLog.latestCheckpoint()?.treeSize).toBe(12);
      // The service's connection still sees 10 leaves: its next checkpoint is the one the export signed.
      expect((await service.projection.checkpoint()).treeSize).toBe(12);
    } finally {
      cliLog.close();
      await service.close();
    }
  });

  it('refuses to sign once checkpoints this process saw were removed from the file', async () => {
    const dir = await signedFolder();
    const o = open(dir);
    try {
      await o.projection.checkpoint(); // this process has seen the checkpoint of 10
      rewriteBothFiles(dir);
      const db = new Database(join(dir, 'transparency.db'));
      db.exec('DELETE FROM checkpoints');
      db.close();
      await appendEvents(o.store, 1, 10);
      await o.projection.catchUp();
      await expect(o.projection.checkpoint()).rejects.toThrow(/signs 0 leaves, where this process saw one of 10: checkpoints were removed/);
    } finally {
      await o.close();
    }
  });
});

describe('a stream head over a history rewritten under an honest checkpoint', () => {
  it('is not signed: every leaf must be proved into the checkpoint\'s tree first (found in review of the export)', async () => {
    const dir = await signedFolder();
    rewriteBothFiles(dir);
    const o = open(dir);
    const signed: string[] = [];
    const watching = { ...signer, sign: async (message: Uint8Array) => (signed.push(new TextDecoder().decode(message)), signer.sign(message)) };
    try {
      // The checkpoint of 10 covers the stream: no checkpoint is signed, only the stream head would be.
      await expect(collectEvidence({ streamId: 'node-meter-1', streamEvents: await o.store.readStream('node-meter-1'), log: o.log, signer: watching })).rejects.toThrow(
        /revision 0 of node-meter-1 \(leaf 1\) is not in the tree the checkpoint of size 10 signs: the log file was altered/,
      );
      expect(signed).toEqual([]);
    } finally {
      await o.close();
    }
  });
});
