import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { describe, expect, it } from 'vitest';
import { openServiceSecureEnvironment } from '../adapters/runtime/index.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { firstValidationIssue } from './support/validation-refusal.ts';

/*
 * Review 47 item 4: the data folder's embedded Secure Environment always kept its KEK in the folder, beside the sealed
 * keys, so a copy of the folder opened every key. CREDENCE_KEK_FILE keeps it elsewhere, for the service and the CLI
 * (both open the folder's Secure Environment through openServiceSecureEnvironment); a KEK left in the folder beside a
 * named one is refused, nothing opened or made.
 */
const scratch = temporaryFolders('credence-kek-file-');
const random = (n: number) => new Uint8Array(randomBytes(n));
const now = () => new Date('2026-01-01T00:00:00Z');
const OWNER = 'maf:infrastructure';
const IN_FOLDER = 'secure-environment.kek';

const open = (dir: string, env: Record<string, string>) => openServiceSecureEnvironment(dir, undefined, { now, random, env });

/** A key made and closed: its handle, to show the same KEK opens it again. */
const keyIn = async (dir: string, env: Record<string, string>): Promise<string> => {
  const se = open(dir, env);
  try {
    return await se.generate(OWNER, 'ed25519');
  } finally {
    se.close();
  }
};

const opensKey = async (dir: string, env: Record<string, string>, handle: string): Promise<void> => {
  const se = open(dir, env);
  try {
    expect((await se.describe(OWNER, handle as never)).kind).toBe('ed25519');
  } finally {
    se.close();
  }
};

/** Each file under `root` with a digest of its bytes. */
const snapshot = (root: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(root, { recursive: true, encoding: 'utf8' })
      .sort()
      .map((name) => {
        const path = join(root, name);
        return [name, statSync(path).isDirectory() ? 'dir' : createHash('sha256').update(readFileSync(path)).digest('hex')];
      }),
  );

const refusal = firstValidationIssue;

describe('a KEK file outside the data folder (CREDENCE_KEK_FILE)', () => {
  it('is made there (0600), never in the folder, and opens the keys again; without it the folder opens none', async () => {
    const dir = join(scratch(), 'data');
    const kek = join(scratch(), 'secrets', 'credence.kek');
    const env = { CREDENCE_KEK_FILE: kek };
    const handle = await keyIn(dir, env);
    expect(existsSync(join(dir, IN_FOLDER))).toBe(false);
    expect((statSync(kek).mode & 0o777).toString(8)).toBe('600');
    await opensKey(dir, env, handle);
    // A copy of the folder alone: the KEK is missing beside a key database that holds keys, refused, none made.
    expect(await refusal(() => open(dir, {}))).toMatchObject({ rule: 'kek_present' });
    expect(existsSync(join(dir, IN_FOLDER))).toBe(false);
  });

  it("an existing folder's KEK moved out as documented opens its keys", async () => {
    const dir = join(scratch(), 'data');
    const handle = await keyIn(dir, {});
    const outside = join(scratch(), 'credence.kek');
    renameSync(join(dir, IN_FOLDER), outside);
    await opensKey(dir, { CREDENCE_KEK_FILE: outside }, handle);
    expect(existsSync(join(dir, IN_FOLDER))).toBe(false);
  });

  it.each([
    ['a different KEK outside', true],
    ['no KEK yet outside', false],
  ])('beside a KEK still in the folder, with %s, is refused naming both and how to move it; nothing is made', async (_what, outsideExists) => {
    const dir = join(scratch(), 'data');
    await keyIn(dir, {});
    const secrets = join(scratch(), 'secrets');
    mkdirSync(secrets, { mode: 0o700 });
    const outside = join(secrets, 'credence.kek');
    if (outsideExists) await keyIn(join(scratch(), 'other'), { CREDENCE_KEK_FILE: outside });
    const before = { folder: snapshot(dir), secrets: snapshot(secrets) };
    const issue = await refusal(() => open(dir, { CREDENCE_KEK_FILE: outside }));
    expect(issue).toMatchObject({ path: 'env CREDENCE_KEK_FILE', rule: 'kek_in_folder' });
    expect(issue?.message).toContain(join(dir, IN_FOLDER));
    // Review 243 item 1: never to move it over another KEK, which may be the only copy of one another folder opens under.
    expect(issue?.message).toContain(outsideExists ? `never move ${join(dir, IN_FOLDER)} over it` : `move that file to ${outside}`);
    expect({ folder: snapshot(dir), secrets: snapshot(secrets) }).toEqual(before);
  });

  it('a relative path is refused naming CREDENCE_KEK_FILE, before the folder is made', async () => {
    const dir = join(scratch(), 'data');
    expect(await refusal(() => open(dir, { CREDENCE_KEK_FILE: 'credence.kek' }))).toEqual({ path: 'env CREDENCE_KEK_FILE', rule: 'kek_file', message: 'must be an absolute path' });
    expect(existsSync(dir)).toBe(false);
  });

  it('is refused with a pkcs11: Secure Environment, which has no KEK', async () => {
    const dir = join(scratch(), 'data');
    const run = () => openServiceSecureEnvironment(dir, 'pkcs11:token=x?module-path=/nonexistent.so', { now, random, env: { CREDENCE_KEK_FILE: join(scratch(), 'k') } });
    expect(await refusal(run)).toMatchObject({ path: 'env CREDENCE_KEK_FILE', rule: 'kek_file' });
  });

  // Review 49 item 3: each of these was accepted (or failed with a raw EISDIR after making the key database).
  it('in a folder group or others may write to (0777) is refused naming the variable and the folder; nothing is made', async () => {
    const open777 = join(scratch(), 'shared');
    mkdirSync(open777);
    chmodSync(open777, 0o777);
    const dir = join(scratch(), 'data');
    const issue = await refusal(() => open(dir, { CREDENCE_KEK_FILE: join(open777, 'credence.kek') }));
    expect(issue).toMatchObject({ path: 'env CREDENCE_KEK_FILE', rule: 'private_folder' });
    expect(issue?.message).toContain(`${open777} is writable by group or others (mode 777)`);
    expect(readdirSync(open777)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    // Its folder not made yet: the nearest one above that exists is the one judged.
    expect(await refusal(() => open(dir, { CREDENCE_KEK_FILE: join(open777, 'secrets', 'credence.kek') }))).toMatchObject({ rule: 'private_folder' });
    expect(readdirSync(open777)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it('inside the data folder, named directly or through a link, is refused: a copy of the folder would hold it; nothing is made', async () => {
    const root = scratch();
    const dir = join(root, 'data');
    expect(await refusal(() => open(dir, { CREDENCE_KEK_FILE: join(dir, 'my.kek') }))).toMatchObject({ path: 'env CREDENCE_KEK_FILE', rule: 'kek_outside_folder' });
    expect(readdirSync(root)).toEqual([]);
    await keyIn(join(root, 'other'), {});
    mkdirSync(dir, { mode: 0o700 });
    symlinkSync(dir, join(root, 'link'));
    const before = snapshot(root);
    const issue = await refusal(() => open(dir, { CREDENCE_KEK_FILE: join(root, 'link', 'secrets', 'my.kek') }));
    expect(issue).toMatchObject({ path: 'env CREDENCE_KEK_FILE', rule: 'kek_outside_folder' });
    expect(issue?.message).toContain(`inside the data folder ${dir}`);
    expect(snapshot(root)).toEqual(before);
  });

  it('naming a folder is refused as such before anything is made (no raw EISDIR, no empty key database)', async () => {
    const secrets = scratch();
    const dir = join(scratch(), 'data');
    const issue = await refusal(() => open(dir, { CREDENCE_KEK_FILE: secrets }));
    expect(issue).toMatchObject({ path: 'env CREDENCE_KEK_FILE', rule: 'kek_file' });
    expect(issue?.message).toContain(`${secrets}, which is a folder`);
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(secrets)).toEqual([]);
  });

  it("a folder whose KEK is outside, opened without the variable, says to set CREDENCE_KEK_FILE as well as to restore", async () => {
    const dir = join(scratch(), 'data');
    await keyIn(dir, { CREDENCE_KEK_FILE: join(scratch(), 'credence.kek') });
    const before = snapshot(dir);
    const issue = await refusal(() => open(dir, {}));
    expect(issue).toMatchObject({ rule: 'kek_present' });
    expect(issue?.message).toContain("restore it from a backup, or, if this folder's KEK is kept outside it, set CREDENCE_KEK_FILE to it");
    expect(snapshot(dir)).toEqual(before);
  });

  it.each([
    ['readable by others', (kek: string) => writeFileSync(kek, `${Buffer.from(randomBytes(32)).toString('base64url')}\n`, { mode: 0o644 })],
    ['empty', (kek: string) => writeFileSync(kek, '', { mode: 0o600 })],
  ])('credence token create with a KEK file %s is refused and leaves no data folder behind', async (_what, plant) => {
    // Review 49 item 8: the data folder was made before the KEK was refused, and the CLI left it behind.
    const secrets = scratch();
    const kek = join(secrets, 'credence.kek');
    plant(kek);
    chmodSync(kek, statSync(kek).mode & 0o777);
    const before = snapshot(secrets);
    const data = join(scratch(), 'data');
    const c = capture();
    const code = await main(['token', 'create', '--data', data, '--role', 'admin', '--subject', 'a', '--ttl', '1h'], { ...c.io, env: { CREDENCE_KEK_FILE: kek } });
    expect(code).toBe(2);
    expect(c.err.join('\n')).toContain(`env CREDENCE_KEK_FILE: ${kek}`);
    expect(c.out).toEqual([]);
    expect(readdirSync(dirname(data))).toEqual([]);
    expect(snapshot(secrets)).toEqual(before);
  });
});
