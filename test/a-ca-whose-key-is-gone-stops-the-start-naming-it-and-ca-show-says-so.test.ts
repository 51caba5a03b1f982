import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { caFilePath, loadIssuingCas } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment } from '../adapters/runtime/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { ownerView, type KeyHandle } from '../domain/ports/index.ts';
import { runCli as run } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 203, finding 1: with `default`'s key deleted from secure-environment.sqlite, `credence serve` exited 1 with
 * only "refused (not_found): key key_… does not exist", naming neither the CA nor its file, and `credence ca show`
 * still listed the CA `active`. The start now names the CA and its file (path `pki/default.ca.json: keyHandle`) and
 * says what to do; `ca show` lists that CA as `key missing` (`key: "missing"` in --json) beside the others.
 */
const folder = temporaryFolders('credence-ca-key-gone-');

/** A data folder with CAs `default` and `sub-1`, `default`'s key destroyed in its Secure Environment. */
const folderWithoutDefaultKey = async (): Promise<string> => {
  const data = join(folder(), 'data');
  for (const id of ['default', 'sub-1']) {
    const made = await run(['ca', 'init', '--data', data, '--id', id]);
    expect(made.code, made.err).toBe(0);
  }
  const handle = (JSON.parse(readFileSync(caFilePath(data, 'default'), 'utf8')) as { keyHandle: KeyHandle }).keyHandle;
  const se = openDataFolderSecureEnvironment(data, { now: () => new Date() });
  try {
    await ownerView(se, 'maf:infrastructure').destroy(handle);
  } finally {
    se.close();
  }
  return data;
};

describe('a CA whose key the Secure Environment no longer holds', () => {
  it('fails the load with a validation error naming the CA, its file and what to do', async () => {
    const data = await folderWithoutDefaultKey();
    const se = openDataFolderSecureEnvironment(data, { now: () => new Date() });
    try {
      const refused = await loadIssuingCas(data, ownerView(se, 'maf:infrastructure')).then(() => undefined, (error: unknown) => error);
      expect(isCredenceError(refused, 'validation'), String(refused)).toBe(true);
      if (!isCredenceError(refused) || refused.problem.code !== 'validation') return;
      expect(refused.problem.issues).toEqual([expect.objectContaining({ path: 'pki/default.ca.json: keyHandle', rule: 'ca_key_held' })]);
      expect(refused.message).toMatch(/CA default/);
      expect(refused.message).toMatch(/restore/);
      expect(refused.message).toMatch(/A CA key is compromised/);
    } finally {
      se.close();
    }
  });

  it('stops credence serve with that error', async () => {
    const data = await folderWithoutDefaultKey();
    const refused = await run(['serve', '--data', data, '--host', '127.0.0.1', '--port', '0', '--log-level', 'silent']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('pki/default.ca.json: keyHandle');
    expect(refused.err).toMatch(/CA default/);
  }, 60_000);

  it('is listed by credence ca show as key missing, the other CA as before', async () => {
    const data = await folderWithoutDefaultKey();
    const shown = await run(['ca', 'show', '--data', data, '--json']);
    expect(shown.code, shown.err).toBe(0);
    const { cas } = JSON.parse(shown.out) as { cas: { id: string; state: string; key: string }[] };
    expect(cas.map(({ id, state, key }) => ({ id, state, key }))).toEqual([
      { id: 'default', state: 'active', key: 'missing' },
      { id: 'sub-1', state: 'active', key: 'held' },
    ]);

    const text = await run(['ca', 'show', '--data', data]);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/^default {2}key missing {2}p256/m);
    expect(text.out).toMatch(/^sub-1 {2}active {2}p256/m);
    expect(text.out).toMatch(/restore/);
  });
});
