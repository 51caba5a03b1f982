import Database from 'better-sqlite3';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { DEFAULT_LOG_ORIGIN, openKeyFileSigner, openTransparencyInDir, openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { eventLeafHash, formatCheckpointText, formatSignedNote, noteKeyId } from '../domain/transparency/index.ts';
import { capture } from './support/cli.ts';
import { appendEvents, readAllEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review: `credence verify --data` compared the files with the newest checkpoint they held. Someone who
 * edited an event, recomputed its leaf hash in transparency.db and deleted the checkpoints past it passed the audit
 * (and the next start signed the forged history). With `--checkpoint SAVED.txt`, a checkpoint the auditor kept from
 * an earlier audit, the log must still be at least that large and hash to it there.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const exported = async (dir: string, name: string): Promise<void> => {
  const c = capture();
  expect(await exportCommand(['credential-meter-1', '--out', join(dir, name), '--data', dir], c.io), c.err.join('\n')).toBe(0);
};
const audit = async (dir: string, saved: string) => {
  const c = capture();
  const key = readFileSync(join(dir, 'transparency.pub'), 'utf8').trim();
  return { code: await verifyCommand(['--data', dir, '--key', key, '--checkpoint', saved], c.io), out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('verify --data with a checkpoint kept from an earlier audit', () => {
  const folder = async () => {
    const dir = dirs.make();
    let store = openSqliteStoreInDir(dir);
    await appendEvents(store, 5);
    await store.close();
    // Its key a file, as a program without a Secure Environment makes it: an export makes none (review 134).
    openTransparencyInDir(dir).log.close();
    await exported(dir, 'a.json');
    store = openSqliteStoreInDir(dir);
    await appendEvents(store, 4, 5);
    await store.close();
    await exported(dir, 'b.json');
    const log = openTransparencyLogInDir(dir);
    const saved = join(dir, 'saved-9.txt');
    writeFileSync(saved, log.checkpointAt(9)!.note);
    log.close();
    return { dir, saved };
  };

  it('passes on the untouched folder', async () => {
    const { dir, saved } = await folder();
    const result = await audit(dir, saved);
    expect(result.code, result.err).toBe(0);
  });

  it('fails when both files were rewritten and the checkpoints past the rewrite deleted', async () => {
    const { dir, saved } = await folder();
    const events = new Database(join(dir, 'events.db'));
    events.prepare(`UPDATE events SET data = json_set(data, '$.label', 'forged') WHERE position = 7`).run();
    events.close();
    const store = openSqliteStoreInDir(dir);
    const edited = (await readAllEvents(store)).find((e) => e.position === 7n)!;
    await store.close();
    const log = new Database(join(dir, 'transparency.db'));
    log.prepare('UPDATE leaves SET leaf_hash = ? WHERE position = 7').run(Buffer.from(eventLeafHash(edited)));
    log.prepare('DELETE FROM checkpoints WHERE tree_size > 5').run();
    log.close();
    const result = await audit(dir, saved);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/TAMPERED: rolled_back: the log's latest checkpoint signs 5 events, the saved one 9/);
  });

  it('fails when the history no longer hashes to it (the auditor saw another tree of that size, signed by the log key)', async () => {
    const { dir } = await folder();
    // What an auditor saved before someone holding the key (it is in the folder) rewrote the history and signed it
    // again: a genuine signature over another root of size 9.
    const signer = openKeyFileSigner({ path: join(dir, 'transparency.key'), keyName: DEFAULT_LOG_ORIGIN });
    const text = formatCheckpointText({ origin: DEFAULT_LOG_ORIGIN, treeSize: 9, rootHash: new Uint8Array(32).fill(7), time: '2026-12-01T00:00:00.000Z' });
    const signature = await signer.sign(new TextEncoder().encode(text));
    const saved = join(dir, 'other-9.txt');
    writeFileSync(saved, formatSignedNote({ text, signatures: [{ keyName: signer.keyName, keyId: noteKeyId(signer.keyName, signer.publicKey), signature }] }));
    const result = await audit(dir, saved);
    expect(result.code).toBe(1);
    // Review 321: the same size with another root is the log forked, `inconsistent`, as every other mode says it.
    expect(result.err).toMatch(/TAMPERED: inconsistent: the log's latest checkpoint and the saved one both sign a tree of size 9, with other roots: the log forked/);
    expect(result.err).not.toMatch(/rolled_back/);
  });

  it('takes a malformed saved checkpoint, or one not under the key pinned, as bad input (exit 2), not as tampering', async () => {
    const { dir } = await folder();
    const garbage = join(dir, 'garbage.txt');
    writeFileSync(garbage, 'not a checkpoint\n');
    const malformed = await audit(dir, garbage);
    expect(malformed.code).toBe(2);
    expect(malformed.err).toMatch(/^error: --checkpoint: /);
    expect(malformed.err).not.toMatch(/TAMPERED/);
    const other = await folder();
    const foreign = join(other.dir, 'saved-9.txt');
    const unsigned = await audit(dir, foreign);
    expect(unsigned.code).toBe(2);
    expect(unsigned.err).toMatch(/^error: --checkpoint: the checkpoint is not signed by/);
  });
});
