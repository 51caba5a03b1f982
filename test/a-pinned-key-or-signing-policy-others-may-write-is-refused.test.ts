import { chmodSync, chownSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { readSigningPolicyFile } from '../adapters/runtime/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { capture } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Review 81: `credence verify BUNDLE --key FILE` took a pinned key from a file any account could write (mode 0666, or
 * owned by another account), and `--signing FILE` a request-signing policy alike: whoever can write the file chooses
 * the key a forged bundle or a forged signed command is held to. Such a file, or one in a folder others may write
 * (a sticky folder such as /tmp aside), is now refused naming the file and the rule; read-only for others is fine.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const exported = async (): Promise<{ bundle: string; pub: string }> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, 2);
  await store.close();
  const bundle = join(dirs.make(), 'bundle.json');
  const c = capture();
  expect(await exportCommand(['credential-meter-1', '--out', bundle, '--data', dir], c.io), c.err.join('\n')).toBe(0);
  return { bundle, pub: join(dir, 'transparency.pub') };
};

/** The pinned key copied into `folder` (made with `folderMode`) with `mode`. */
const keyFile = (pub: string, folderMode: number, mode: number): string => {
  const folder = join(dirs.make(), 'keys');
  mkdirSync(folder);
  chmodSync(folder, folderMode);
  const file = join(folder, 'log.pub');
  copyFileSync(pub, file);
  chmodSync(file, mode);
  return file;
};

const verify = async (bundle: string, key: string) => {
  const c = capture();
  return { code: await verifyCommand([bundle, '--key', key], c.io), err: c.err.join('\n') };
};

describe('verify --key FILE', () => {
  it('verifies with a key file of this account that others may only read, also in a sticky folder', async () => {
    const { bundle, pub } = await exported();
    expect((await verify(bundle, keyFile(pub, 0o755, 0o644))).code).toBe(0);
    expect((await verify(bundle, keyFile(pub, 0o1777, 0o644))).code).toBe(0);
  });

  it('refuses a key file group or others may write, naming it and the mode (exit 2)', async () => {
    const { bundle, pub } = await exported();
    const file = keyFile(pub, 0o755, 0o666);
    const refused = await verify(bundle, file);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`error: --key: ${file} may be written by group or others (mode 0666)`);
  });

  it('refuses a key file in a folder others may write (not sticky): another file could take its place', async () => {
    const { bundle, pub } = await exported();
    const file = keyFile(pub, 0o777, 0o644);
    const refused = await verify(bundle, file);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/which group or others may write \(mode 0777\): they may put another file in its place/);
  });

  it.skipIf(process.geteuid?.() !== 0)('refuses a key file another account owns (root may chown it to one)', async () => {
    const { bundle, pub } = await exported();
    const file = keyFile(pub, 0o755, 0o644);
    chownSync(file, 65534, 65534);
    const refused = await verify(bundle, file);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`is owned by uid 65534, not by this account`);
  });
});

describe('a request-signing policy file (serve --signing, SER-016)', () => {
  it('is refused when others may write it, before it is read', () => {
    const folder = dirs.make();
    const file = join(folder, 'signing.json');
    writeFileSync(file, 'not even JSON');
    chmodSync(file, 0o646);
    expect(readSigningPolicyFile(file)).toEqual({ ok: false, problems: [`${file} may be written by group or others (mode 0646): they choose what it trusts; chmod go-w ${file}`] });
    chmodSync(file, 0o644);
    expect(readSigningPolicyFile(file)).toMatchObject({ ok: false, problems: [expect.not.stringContaining('may be written')] });
  });
});
