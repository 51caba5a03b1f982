import { join } from 'node:path';
import { truncateSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRootCa } from '../adapters/driven/pki/create.ts';
import { caIds, readCaFile } from '../adapters/driven/pki/index.ts';
import { SqliteKeyRegistry } from '../adapters/driven/key-registry/index.ts';
import { KEY_HANDLE_FILE, LOG_KEY_OWNER } from '../adapters/driven/transparency/index.ts';
import { ACCESS_OWNER } from '../adapters/http/auth/open-access-control.ts';
import { openAccessRegistry, systemRandom } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { listFolderKeys } from '../bin/commands/key-list.ts';
import { type KeyHandle } from '../domain/ports/index.ts';
import type { CaId } from '../domain/x509/issuing-ca.ts';
import { capture } from './support/cli.ts';
import { isHeld, withDataFolderSe } from './support/key-held.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * A process killed between a key's generate and its record leaves a key no record names, and only an error's
 * handle could find it. `credence key list` lists the keys of the owners `credence key destroy` knows, each with the
 * record that names it, or `unnamed`: one that key destroy would destroy, by the command its last line names.
 */
const scratch = temporaryFolders('credence-key-list-');
const INFRASTRUCTURE = 'maf:infrastructure';

const withSe = withDataFolderSe;

const held = (dir: string, owner: string, handle: KeyHandle): Promise<boolean> => withSe(dir, owner, (se) => isHeld(se, handle));

const credence = async (argv: string[]): Promise<{ code: number; out: string[]; all: string }> => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env: {} });
  return { code, out, all: [...out, ...err].join('\n') };
};

/** A folder with a CA, an API token signing key, a log key, and one infrastructure key generated and never recorded. */
const folder = async () => {
  const dir = join(scratch(), 'data');
  const ca = await withSe(dir, INFRASTRUCTURE, async (se) => {
    await createRootCa({ dataDir: dir, se, id: 'default' as CaId, kind: 'p256', now: new Date(), random: systemRandom });
    return readCaFile(dir, caIds(dir)[0]!)!.keyHandle;
  });
  const issued = await credence(['token', 'create', '--data', dir, '--role', 'admin', '--subject', 'ops', '--ttl', '1h']);
  expect(issued.code, issued.all).toBe(0);
  const access = openAccessRegistry({ dir });
  const accessKey = (() => {
    try {
      return access.signingKeys()[0]!.handle;
    } finally {
      access.close();
    }
  })();
  const logKey = await withSe(dir, LOG_KEY_OWNER, (se) => se.generate('ed25519'));
  writeFileSync(join(dir, KEY_HANDLE_FILE), `${logKey}\n`);
  const left = await withSe(dir, INFRASTRUCTURE, (se) => se.generate('ed25519'));
  return { dir, ca, accessKey, logKey, left };
};

describe('credence key list, on a folder with the embedded Secure Environment', () => {
  it('lists the key nothing records as unnamed and every other key with the record that names it; the last line names key destroy', async () => {
    const { dir, ca, accessKey, logKey, left } = await folder();
    const listed = await credence(['key', 'list', '--data', dir]);
    expect(listed.code, listed.all).toBe(0);
    const lineOf = (handle: string) => listed.out.find((line) => line.startsWith(`${handle} `));
    expect(lineOf(ca)).toMatch(new RegExp(`^${ca} ${INFRASTRUCTURE} p256/sign \\S+Z named by ca_key_in_use: the key of CA default`));
    expect(lineOf(accessKey)).toContain(`${accessKey} ${ACCESS_OWNER} `);
    expect(lineOf(accessKey)).toContain('named by access_signing_key_in_use: ');
    expect(lineOf(logKey)).toContain(`${logKey} ${LOG_KEY_OWNER} ed25519/sign `);
    expect(lineOf(logKey)).toContain('named by log_key_in_use: ');
    expect(lineOf(left)).toMatch(new RegExp(`^${left} ${INFRASTRUCTURE} ed25519/sign \\S+Z unnamed$`));
    expect(listed.out.filter((line) => line.endsWith(' unnamed'))).toEqual([lineOf(left)]);
    // One command per key, pasted whole (review 63: a template with <owner> <handle> was a redirection to bash).
    expect(listed.out.slice(-2)).toEqual([
      '1 of 4 listed named by nothing, each one key destroy would destroy:',
      `  credence key destroy --owner ${INFRASTRUCTURE} --handle ${left} --data ${dir}`,
    ]);
    expect(listed.all).not.toContain('nothing destroyed');
  }, 60_000);

  it('--unnamed prints only the key nothing names; --owner only that owner\'s keys', async () => {
    const { dir, left, accessKey } = await folder();
    const unnamed = await credence(['key', 'list', '--data', dir, '--unnamed']);
    expect(unnamed.code, unnamed.all).toBe(0);
    expect(unnamed.out.slice(0, -2)).toEqual([expect.stringMatching(new RegExp(`^${left} ${INFRASTRUCTURE} .* unnamed$`))]);
    const access = await credence(['key', 'list', '--data', dir, '--owner', ACCESS_OWNER]);
    expect(access.code, access.all).toBe(0);
    expect(access.out.slice(0, -1)).toEqual([expect.stringMatching(new RegExp(`^${accessKey} ${ACCESS_OWNER} `))]);
    expect(access.out.at(-1)).toBe(`no key nothing names: 1 listed, each named by a record of ${dir}`);
  }, 60_000);

  it('--json is one JSON document: each key with its owner, kind, creation time and what names it', async () => {
    const { dir, ca, left } = await folder();
    const listed = await credence(['key', 'list', '--data', dir, '--json']);
    expect(listed.code, listed.all).toBe(0);
    const report = JSON.parse(listed.out.join('\n')) as {
      keys: { handle: string; owner: string; kind: string; createdAt?: string; namedBy: { rule: string; message: string } | null; destroy?: string }[];
      listed: number;
      unnamed: number;
      stopped: boolean;
    };
    expect(report.listed).toBe(4);
    expect(report.unnamed).toBe(1);
    expect(report.stopped).toBe(false);
    expect(report.keys.find((k) => k.handle === left)).toEqual(expect.objectContaining({ owner: INFRASTRUCTURE, kind: 'ed25519', namedBy: null }));
    expect(report.keys.find((k) => k.handle === ca)!.namedBy!.rule).toBe('ca_key_in_use');
    for (const key of report.keys) expect(Date.parse(key.createdAt!)).not.toBeNaN();
    expect(report.keys.find((k) => k.handle === left)!.destroy).toBe(`credence key destroy --owner ${INFRASTRUCTURE} --handle ${left} --data ${dir}`);
    expect(report.keys.find((k) => k.handle === ca)!.destroy).toBeUndefined();
    const only = JSON.parse((await credence(['key', 'list', '--data', dir, '--json', '--unnamed'])).out.join('\n')) as { keys: { handle: string }[] };
    expect(only.keys.map((k) => k.handle)).toEqual([left]);
  }, 60_000);

  it('key destroy of the key listed unnamed destroys it, and a second list shows no key unnamed', async () => {
    const { dir, ca, left } = await folder();
    const listed = await credence(['key', 'list', '--data', dir, '--unnamed']);
    const [handle, owner] = listed.out[0]!.split(' ');
    expect(handle).toBe(left);
    const destroyed = await credence(['key', 'destroy', '--owner', owner!, '--handle', handle!, '--data', dir]);
    expect(destroyed.code, destroyed.all).toBe(0);
    expect(await held(dir, INFRASTRUCTURE, left)).toBe(false);
    const again = await credence(['key', 'list', '--data', dir]);
    expect(again.code, again.all).toBe(0);
    expect(again.out.filter((line) => line.endsWith(' unnamed'))).toEqual([]);
    expect(again.out.at(-1)).toBe(`no key nothing names: 3 listed, each named by a record of ${dir}`);
    expect(await held(dir, INFRASTRUCTURE, ca)).toBe(true);
  }, 60_000);

  it('refuses (exit 1) when a record cannot be read, never calling its key unnamed', async () => {
    const { dir, left } = await folder();
    const registry = SqliteKeyRegistry.open({ dir });
    try {
      registry.register('infrastructure', left, 'pseudonym-prf');
    } finally {
      registry.close();
    }
    truncateSync(join(dir, 'keys.db'), 0);
    const refused = await credence(['key', 'list', '--data', dir]);
    expect(refused.code, refused.all).toBe(1);
    expect(refused.all).toContain(`the database ${join(dir, 'keys.db')} is damaged`);
    expect(refused.all).not.toContain('unnamed');
  }, 60_000);

  it('is refused while the service holds the folder, and refuses an owner it does not know (exit 2)', async () => {
    const dir = join(scratch(), 'data');
    await withSe(dir, INFRASTRUCTURE, (se) => se.generate('ed25519'));
    const svc = await startTestService({ dir });
    try {
      const refused = await credence(['key', 'list', '--data', dir]);
      expect(refused.code, refused.all).toBe(1);
      expect(refused.all).toContain('stop that service first');
      expect(refused.all).not.toContain('unnamed');
    } finally {
      await svc.close();
    }
    const owner = await credence(['key', 'list', '--data', dir, '--owner', 'maf:device']);
    expect(owner.code, owner.all).toBe(2);
    expect(owner.all).toContain('not an owner this command knows');
  }, 120_000);

  it('refuses two --data folders with the embedded Secure Environment (exit 2), as key destroy does', async () => {
    const { dir } = await folder();
    const other = join(scratch(), 'other');
    await withSe(other, INFRASTRUCTURE, async () => undefined);
    const two = await credence(['key', 'list', '--data', dir, '--data', other]);
    expect(two.code, two.all).toBe(2);
    expect(two.all).toContain('the embedded Secure Environment is in its data folder: name that one folder (2 named)');
  }, 60_000);

  it('stops at its bound and says so, before the last line', async () => {
    const { dir } = await folder();
    const { io, out } = capture();
    const code = await listFolderKeys({ data: [dir], secureEnvironment: undefined, tokenNotShared: false }, { unnamed: false, json: false }, { ...io, env: {} }, 2);
    expect(code).toBe(0);
    expect(out[2]).toBe("stopped after 2 keys: more are held (give --owner to list one owner's)");
    // Then the summary of those two (and a destroy line for each of them nothing names).
    expect(out[3]).toMatch(/^(no key nothing names: 2 listed|\d of 2 listed named by nothing)/);
    expect(out.length).toBeLessThanOrEqual(6);
  }, 60_000);
});
