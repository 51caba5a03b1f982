import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, readSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { withTrustedFile } from '../adapters/driven/files/index.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { readSigningPolicyFile } from '../adapters/runtime/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { capture } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';
import { fileWithModes } from './support/audited-folder.ts';

/*
 * Review 81: `credence verify BUNDLE --key FILE` took a pinned key from a file any account could write (mode 0666, or
 * owned by another account), and `--signing FILE` a request-signing policy alike: whoever can write the file chooses
 * the key a forged bundle or a forged signed command is held to. Such a file, or one in a folder others may write
 * (a sticky folder such as /tmp aside), is now refused naming the file and the rule; read-only for others is fine.
 * Review 85: the rule holds for the file a link leads to (realpath) and every folder above it up to /, a folder of
 * another account included, and what is read is the file checked, through the one descriptor checked.
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
const keyFile = (pub: string, folderMode: number, mode: number): string =>
  fileWithModes(dirs.make, { folder: 'keys', file: 'log.pub' }, readFileSync(pub), folderMode, mode);

/** Folders made one in another under a temporary folder, each `[name, mode]`; the last one's path. */
const folders = (...chain: readonly (readonly [string, number])[]): string => {
  let at = dirs.make();
  for (const [name, mode] of chain) {
    at = join(at, name);
    mkdirSync(at);
    chmodSync(at, mode);
  }
  return at;
};

/** The pinned key copied into `folder` with mode 0644. */
const keyIn = (pub: string, folder: string): string => {
  const file = join(folder, 'log.pub');
  copyFileSync(pub, file);
  chmodSync(file, 0o644);
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

describe('verify --key FILE: the file a link leads to, and every folder above it', () => {
  it('verifies with a key in folders of this account, one of them sticky as /tmp is, also through a link', async () => {
    const { bundle, pub } = await exported();
    const file = keyIn(pub, folders(['shared', 0o1777], ['mine', 0o755]));
    expect((await verify(bundle, file)).code).toBe(0);
    const link = join(folders(['links', 0o700]), 'log.pub');
    symlinkSync(file, link);
    expect((await verify(bundle, link)).code).toBe(0);
  });

  it.skipIf(process.geteuid?.() !== 0)('refuses a key in a folder another account owns (mode 0755): that account may rename a file over it', async () => {
    const { bundle, pub } = await exported();
    const folder = folders(['theirs', 0o755]);
    const file = keyIn(pub, folder);
    chownSync(folder, 65534, 65534);
    const refused = await verify(bundle, file);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`error: --key: ${file} is in ${folder}, owned by uid 65534, not by this account (uid 0) or root`);
  });

  it.skipIf(process.geteuid?.() !== 0)('refuses a key under a higher folder another account owns', async () => {
    const { bundle, pub } = await exported();
    const mine = folders(['theirs', 0o755], ['mine', 0o755]);
    const grandparent = dirname(mine);
    const file = keyIn(pub, mine);
    chownSync(grandparent, 65534, 65534);
    const refused = await verify(bundle, file);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`is under ${grandparent}, owned by uid 65534`);
  });

  it('refuses a link, in a private folder, to a key in a folder others may write (not sticky)', async () => {
    const { bundle, pub } = await exported();
    const loose = folders(['loose', 0o777]);
    const link = join(folders(['private', 0o700]), 'log.pub');
    symlinkSync(keyIn(pub, loose), link);
    const refused = await verify(bundle, link);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`error: --key: ${link} (${join(loose, 'log.pub')}) is in ${loose}, which group or others may write (mode 0777)`);
  });

  it('refuses a key whose higher folder others may write (not sticky), its own folder private', async () => {
    const { bundle, pub } = await exported();
    const mine = folders(['loose', 0o777], ['mine', 0o700]);
    const file = keyIn(pub, mine);
    const refused = await verify(bundle, file);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`error: --key: ${file} is under ${dirname(mine)}, which group or others may write (mode 0777)`);
  });

  it('refuses a FIFO in place of the key at once, not waiting for a writer', async () => {
    const { bundle } = await exported();
    const fifo = join(folders(['mine', 0o700]), 'log.pub');
    execFileSync('mkfifo', ['-m', '0644', fifo]);
    const refused = await verify(bundle, fifo);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`error: --key: ${fifo} is not a regular file: name the file itself`);
  });

  it('reads the file it checked: a file put in its place once checked is not what is read', () => {
    const folder = folders(['mine', 0o700]);
    const file = join(folder, 'log.pub');
    writeFileSync(file, 'checked', { mode: 0o644 });
    const read = withTrustedFile(file, (fd) => {
      const other = join(folder, 'other');
      writeFileSync(other, 'swapped');
      chmodSync(other, 0o666);
      renameSync(other, file);
      const bytes = Buffer.alloc(64);
      return bytes.subarray(0, readSync(fd, bytes, 0, 64, 0)).toString();
    });
    expect(read).toEqual({ ok: true, value: 'checked' });
    expect(withTrustedFile(file, () => 'read')).toEqual({ ok: false, kind: 'trusted_file', message: expect.stringContaining(`${file} may be written by group or others (mode 0666)`) });
  });
});

describe('a request-signing policy file (serve --signing, SER-016)', () => {
  it('is refused when others may write it, before it is read', () => {
    const folder = dirs.make();
    const file = join(folder, 'signing.json');
    writeFileSync(file, 'not even JSON');
    chmodSync(file, 0o646);
    expect(readSigningPolicyFile(file)).toEqual({ ok: false, kind: 'trusted_file', problems: [`${file} may be written by group or others (mode 0646): they choose what it trusts; chmod go-w ${file}`] });
    chmodSync(file, 0o644);
    expect(readSigningPolicyFile(file)).toMatchObject({ ok: false, problems: [expect.not.stringContaining('may be written')] });
  });
});

describe('a request-signing policy file: the file a link leads to, and every folder above it', () => {
  const policy = (folder: string): string => {
    const file = join(folder, 'signing.json');
    writeFileSync(file, 'not even JSON', { mode: 0o644 });
    return file;
  };

  it('is refused through a link into a folder others may write, and under a higher one', () => {
    const loose = folders(['loose', 0o777]);
    const link = join(folders(['private', 0o700]), 'signing.json');
    symlinkSync(policy(loose), link);
    expect(readSigningPolicyFile(link)).toEqual({ ok: false, kind: 'trusted_file', problems: [expect.stringContaining(`${link} (${join(loose, 'signing.json')}) is in ${loose}, which group or others may write`)] });
    const deep = folders(['loose', 0o777], ['mine', 0o700]);
    expect(readSigningPolicyFile(policy(deep))).toEqual({ ok: false, kind: 'trusted_file', problems: [expect.stringMatching(/is under .*\/loose, which group or others may write \(mode 0777\)/)] });
  });

  it.skipIf(process.geteuid?.() !== 0)('is refused in a folder another account owns', () => {
    const folder = folders(['theirs', 0o755]);
    const file = policy(folder);
    chownSync(folder, 65534, 65534);
    expect(readSigningPolicyFile(file)).toEqual({ ok: false, kind: 'trusted_file', problems: [expect.stringContaining(`${file} is in ${folder}, owned by uid 65534`)] });
  });

  it('is read (and judged as a policy) in folders of this account, one sticky', () => {
    const file = policy(folders(['shared', 0o1777], ['mine', 0o755]));
    expect(readSigningPolicyFile(file)).toMatchObject({ ok: false, problems: [expect.stringMatching(/JSON/)] });
  });
});
