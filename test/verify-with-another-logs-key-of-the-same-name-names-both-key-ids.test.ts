/**
 * Review 46: `credence verify --data D --key <another folder's transparency.pub>` said `TAMPERED: bad_checkpoint … not
 * signed by credence.local/log` when both logs' keys have the same name: a wrong pinned key read as tampering. The
 * verdict stays `bad_checkpoint` (bad_checkpoint_signature in the domain), and its message now names the key expected
 * by key ID and the key of that name the checkpoint is signed by.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { openCheckpoint, parseVerifierKey } from '../domain/transparency/index.ts';
import { capture } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

/** A folder with a store and its transparency log (an export makes the log catch up), and its log key's text form. */
const folder = async (): Promise<{ dir: string; key: string }> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, 3);
  await store.close();
  const c = capture();
  expect(await exportCommand(['credential-meter-1', '--out', join(dir, 'e.json'), '--data', dir], c.io), c.err.join('\n')).toBe(0);
  return { dir, key: readFileSync(join(dir, 'transparency.pub'), 'utf8').trim() };
};

/** `<name>+<key ID>` of a verifier key's text form. */
const label = (key: string): string => key.split('+').slice(0, 2).join('+');

describe('verify --data pinned to another log key of the same name', () => {
  it('keeps the verdict and names the key ID expected and the one that signed', async () => {
    const audited = await folder();
    const other = await folder();
    expect(parseVerifierKey(other.key)!.keyName).toBe(parseVerifierKey(audited.key)!.keyName);
    const c = capture();
    const code = await verifyCommand(['--data', audited.dir, '--key', other.key], c.io);
    const err = c.err.join('\n');
    expect(code).toBe(1);
    expect(err).toContain('bad_checkpoint');
    expect(err).toContain(`no signature by the key ${label(other.key)}; it is signed by ${label(audited.key)}, another key of that name`);
  });

  it('says a signature by the expected key that does not verify, naming its key ID', async () => {
    const { dir, key } = await folder();
    const db = await import('better-sqlite3');
    const log = new db.default(join(dir, 'transparency.db'), { readonly: true });
    const { note } = log.prepare('SELECT note FROM checkpoints ORDER BY tree_size DESC LIMIT 1').get() as { note: string };
    log.close();
    // One character of the signature changed: the note still names the key, its signature no longer verifies.
    const lines = note.split('\n');
    const sig = lines.at(-2)!;
    const at = sig.length - 6;
    lines[lines.length - 2] = `${sig.slice(0, at)}${sig[at] === 'A' ? 'B' : 'A'}${sig.slice(at + 1)}`;
    const opened = openCheckpoint(lines.join('\n'), key);
    expect(opened).toMatchObject({ ok: false, reason: 'bad_checkpoint_signature' });
    expect((opened as { message: string }).message).toContain(`its signature by the key ${label(key)} does not verify`);
  });
});
