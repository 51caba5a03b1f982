import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { DEFAULT_LOG_ORIGIN, openKeyFileSigner, openTransparencyInDir, openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { formatCheckpointText, formatSignedNote, noteKeyId } from '../domain/transparency/index.ts';
import { capture } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review 88: `credence verify old.json --key K --checkpoint saved.txt` ignored --checkpoint and exited 0 on a
 * bundle older than the checkpoint kept (and --data ignored --proof and --to). An option of another mode is refused;
 * a bundle's tree must be the saved checkpoint's or be shown to extend it.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const verify = async (args: string[]) => {
  const c = capture();
  return { code: await verifyCommand(args, c.io), out: c.out.join('\n'), err: c.err.join('\n') };
};

const folder = async () => {
  const dir = dirs.make();
  const exported = async (name: string) => {
    const c = capture();
    expect(await exportCommand(['credential-meter-1', '--out', join(dir, name), '--data', dir], c.io), c.err.join('\n')).toBe(0);
    return join(dir, name);
  };
  let store = openSqliteStoreInDir(dir);
  await appendEvents(store, 5);
  await store.close();
  // Its key a file, as a program without a Secure Environment makes it: an export makes none (review 134).
  openTransparencyInDir(dir).log.close();
  const older = await exported('a.json');
  store = openSqliteStoreInDir(dir);
  await appendEvents(store, 4, 5);
  await store.close();
  const newer = await exported('b.json');
  const log = openTransparencyLogInDir(dir);
  const [saved5, saved9] = [5, 9].map((size) => {
    const path = join(dir, `saved-${size}.txt`);
    writeFileSync(path, log.checkpointAt(size)!.note);
    return path;
  });
  log.close();
  return { dir, older, newer, saved5: saved5!, saved9: saved9!, key: readFileSync(join(dir, 'transparency.pub'), 'utf8').trim() };
};

describe('verify refuses an option that does not belong to the mode chosen', () => {
  it.each([
    [['b.json', '--proof', 'p.json'], /--proof: does not go with a bundle FILE\.json/],
    [['b.json', '--to', 'b.txt'], /--to: does not go with a bundle FILE\.json/],
    [['b.json', '--save-checkpoint', 's.txt'], /--save-checkpoint: does not go with a bundle FILE\.json/],
    [['--data', 'dir', '--proof', 'p.json'], /--proof: does not go with --data/],
    [['--data', 'dir', '--to', 'b.txt'], /--to: does not go with --data/],
    [['--event', 'e.json', '--proof', 'p.json', '--checkpoint', 'c.txt', '--save-checkpoint', 's.txt'], /--save-checkpoint: does not go with --event/],
    [['--event', 'e.json', '--proof', 'p.json', '--checkpoint', 'c.txt', '--to', 'b.txt'], /--to: does not go with --event/],
    [['--from', 'a.txt', '--to', 'b.txt', '--proof', 'p.json', '--checkpoint', 'c.txt'], /--checkpoint: does not go with --from\/--to/],
    [['--from', 'a.txt', '--to', 'b.txt', '--proof', 'p.json', '--repair-nodes'], /--repair-nodes: does not go with --from\/--to/],
  ])('%j: exit 2 naming the option and the mode', async (args, message) => {
    const result = await verify([...args, '--key', 'credence+00000000+AAAA']);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(result.out).toBe('');
  });
});

describe('verify FILE.json --checkpoint SAVED', () => {
  it('passes a bundle of the saved checkpoint itself', async () => {
    const f = await folder();
    for (const [bundle, saved] of [[f.older, f.saved5], [f.newer, f.saved9]] as const) {
      const result = await verify([bundle, '--key', f.key, '--checkpoint', saved]);
      expect(result.code, result.err).toBe(0);
      expect(result.out).toMatch(/^ok: .*the tree of the checkpoint kept/);
    }
  });

  it('fails a bundle older than the checkpoint kept (consistency_unproven, exit 1: an older bundle or a rollback, review 372)', async () => {
    const f = await folder();
    const result = await verify([f.older, '--key', f.key, '--checkpoint', f.saved9]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^FAILED \(consistency_unproven\): the bundle's checkpoint signs a tree of size 5, smaller than the checkpoint kept \(size 9\)/);
    expect(result.out).toBe('');
  });

  it('fails a bundle of the same size with another root, signed by the key (inconsistent, exit 1)', async () => {
    const f = await folder();
    const signer = openKeyFileSigner({ path: join(f.dir, 'transparency.key'), keyName: DEFAULT_LOG_ORIGIN });
    const text = formatCheckpointText({ origin: DEFAULT_LOG_ORIGIN, treeSize: 9, rootHash: new Uint8Array(32).fill(7), time: '2026-12-01T00:00:00.000Z' });
    const signature = await signer.sign(new TextEncoder().encode(text));
    const other = join(f.dir, 'other-9.txt');
    writeFileSync(other, formatSignedNote({ text, signatures: [{ keyName: signer.keyName, keyId: noteKeyId(signer.keyName, signer.publicKey), signature }] }));
    const result = await verify([f.newer, '--key', f.key, '--checkpoint', other]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^FAILED \(inconsistent\): .*with other roots/);
  });

  it('does not pass a larger bundle it cannot hold to the checkpoint kept (consistency_unproven, exit 1)', async () => {
    const f = await folder();
    const result = await verify([f.newer, '--key', f.key, '--checkpoint', f.saved5, '--json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.out)).toMatchObject({ ok: false, reason: 'consistency_unproven' });
    expect(result.err).toMatch(/consistency_unproven.*size 9.*size 5.*credence verify --from SAVED/);
  });

  it('takes a malformed saved checkpoint, or one not under the key pinned, as bad input (exit 2)', async () => {
    const f = await folder();
    const garbage = join(f.dir, 'garbage.txt');
    writeFileSync(garbage, 'not a checkpoint\n');
    const malformed = await verify([f.newer, '--key', f.key, '--checkpoint', garbage]);
    expect(malformed.code).toBe(2);
    expect(malformed.err).toMatch(/^error: --checkpoint: /);
    const other = await folder();
    const foreign = await verify([f.newer, '--key', f.key, '--checkpoint', other.saved9]);
    expect(foreign.code).toBe(2);
    expect(foreign.err).toMatch(/^error: --checkpoint: the checkpoint is not signed by/);
  });
});
