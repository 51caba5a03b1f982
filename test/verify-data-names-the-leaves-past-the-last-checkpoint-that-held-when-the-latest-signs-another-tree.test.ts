import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { formatCheckpointText, formatVerifierKey, MemoryTree, rootHash } from '../domain/transparency/index.ts';
import { signNote, TransparencyProjection } from '../projections/transparency/index.ts';
import { capture } from './support/cli.ts';
import { ORIGIN, appendEvents, fixedSigner, keyOf, tempDirs } from './transparency-fixtures.ts';

/*
 * Review 296 item 3: with only the size-8 checkpoint row of transparency.db replaced by a valid size-8 checkpoint of a
 * fork under the same key, `verify --data` said "the first 8 stored events match the log file but not its signed
 * checkpoint: both files were altered", asserting what it cannot know, and said nowhere where. It now names the leaves
 * (and their positions) after the last earlier checkpoint that still held, says either the log file and the events were
 * rewritten there or the checkpoint is another signed tree of that size (a fork under this key), and --json carries
 * that range.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());
const signer = fixedSigner();
const KEY = formatVerifierKey(keyOf(signer));
const clock = new FakeClock();

/** 8 events logged, signed at tree sizes 4 and 8. */
const signedFolder = async (): Promise<string> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  const log = openTransparencyLogInDir(dir);
  const projection = new TransparencyProjection({ store, log, signer, origin: ORIGIN, now: () => clock.now(), checkpointEveryMs: 0 });
  try {
    for (const from of [0, 4]) {
      await appendEvents(store, 4, from);
      await projection.catchUp();
      await projection.checkpoint();
    }
  } finally {
    await store.close();
    log.close();
  }
  return dir;
};

/** The size-8 checkpoint row replaced by a checkpoint the same key signed of a fork: leaf 6 another. */
const replaceLatestByAFork = async (dir: string, signedAt = [4, 8]): Promise<void> => {
  const db = new Database(join(dir, 'transparency.db'));
  try {
    const leaves = (db.prepare('SELECT leaf_hash FROM leaves ORDER BY leaf_index').all() as { leaf_hash: Buffer }[]).map((r) => new Uint8Array(r.leaf_hash));
    expect(leaves).toHaveLength(8);
    expect((db.prepare('SELECT tree_size FROM checkpoints ORDER BY tree_size').all() as { tree_size: number }[]).map((r) => r.tree_size)).toEqual(signedAt);
    leaves[6] = new Uint8Array(32).fill(6);
    const root = rootHash(new MemoryTree(leaves), 8);
    const time = '2026-03-01T00:00:00.000Z';
    const note = await signNote(signer, formatCheckpointText({ origin: ORIGIN, treeSize: 8, rootHash: root, time }));
    db.prepare('UPDATE checkpoints SET root_hash = ?, time = ?, note = ? WHERE tree_size = 8').run(Buffer.from(root), time, note);
  } finally {
    db.close();
  }
};

describe('verify --data over a latest checkpoint the log key signed of another tree of that size', () => {
  it('names the leaves and positions after the last earlier checkpoint that held, and says what may have happened there, without asserting both files were altered', async () => {
    const dir = await signedFolder();
    const before = capture();
    expect(await verifyCommand(['--data', dir, '--key', KEY], before.io), before.err.join('\n')).toBe(0);
    await replaceLatestByAFork(dir);

    const text = capture();
    expect(await verifyCommand(['--data', dir, '--key', KEY], text.io)).toBe(1);
    const err = text.err.join('\n');
    expect(err).not.toContain('both files were altered');
    expect(err).toMatch(/^TAMPERED: log_mismatch: /);
    expect(err).toContain('leaves 4 to 7 (positions 5 to 8)');
    expect(err).toContain('the first 4 still hash to the checkpoint of tree size 4 the log key signed');
    expect(err).toContain('the log file and the events were rewritten there, or the checkpoint is another signed tree of that size (a fork under this key)');

    const json = capture();
    expect(await verifyCommand(['--data', dir, '--key', KEY, '--json'], json.io)).toBe(1);
    expect(JSON.parse(json.out.join('\n'))).toMatchObject({ ok: false, kind: 'log_mismatch', range: { leaves: { first: 4, last: 7 }, positions: { first: '5', last: '8' } } });
  });
});

describe('verify --data over the only checkpoint, replaced by one the log key signed of another tree of that size', () => {
  it('names every leaf it signs, saying no earlier checkpoint holds any of them', async () => {
    const dir = dirs.make();
    const store = openSqliteStoreInDir(dir);
    const log = openTransparencyLogInDir(dir);
    const projection = new TransparencyProjection({ store, log, signer, origin: ORIGIN, now: () => clock.now(), checkpointEveryMs: 0 });
    await appendEvents(store, 8);
    await projection.catchUp();
    await projection.checkpoint();
    await store.close();
    log.close();
    await replaceLatestByAFork(dir, [8]);

    const json = capture();
    expect(await verifyCommand(['--data', dir, '--key', KEY, '--json'], json.io)).toBe(1);
    const document = JSON.parse(json.out.join('\n')) as { message: string };
    expect(document).toMatchObject({ ok: false, kind: 'log_mismatch', range: { leaves: { first: 0, last: 7 }, positions: { first: '1', last: '8' } } });
    expect(document.message).toContain('no earlier checkpoint signed by the log key holds any of them, so they part from it in leaves 0 to 7 (positions 1 to 8)');
  });
});
