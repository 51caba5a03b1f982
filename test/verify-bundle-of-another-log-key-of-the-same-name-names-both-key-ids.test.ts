/**
 * Review 190: a bundle verified against another log's key of the same name (an auditor pinned another log's key, or a
 * restore started a new log) said `FAILED (untrusted_key): the bundle names key credence.local/log, which is not the
 * trusted log key` while the pinned key is named credence.local/log too: it read as a contradiction. Both keys are now
 * named by key ID, in the words the checkpoint path uses (noteRefusal, review 46).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { parseVerifierKey } from '../domain/transparency/index.ts';
import { capture } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

/** A folder with a store, its log and an exported bundle, and its log key's text form. */
const folder = async (): Promise<{ bundle: string; key: string }> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, 3);
  await store.close();
  const bundle = join(dir, 'e.json');
  const c = capture();
  expect(await exportCommand(['credential-meter-1', '--out', bundle, '--data', dir], c.io), c.err.join('\n')).toBe(0);
  return { bundle, key: readFileSync(join(dir, 'transparency.pub'), 'utf8').trim() };
};

/** `<name>+<key ID>` of a verifier key's text form. */
const label = (key: string): string => key.split('+').slice(0, 2).join('+');

describe('verify BUNDLE --key <another log key of the same name>', () => {
  it('fails untrusted_key naming the key the bundle names and the key pinned, both by key ID', async () => {
    const exported = await folder();
    const other = await folder();
    expect(parseVerifierKey(other.key)!.keyName).toBe(parseVerifierKey(exported.key)!.keyName);
    const c = capture();
    const code = await verifyCommand([exported.bundle, '--key', other.key], c.io);
    const err = c.err.join('\n');
    expect(code).toBe(1);
    expect(err).toMatch(/^FAILED \(untrusted_key\): /);
    expect(err).toContain(
      `the bundle is not signed by the key ${label(other.key)}; it names ${label(exported.key)}, another key of that name (the key given is not this log's, or the log's key was replaced)`,
    );
  });
});
