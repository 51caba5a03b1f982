/**
 * Review 307 item 2: the link walk (walkAsLookedUp) resolved `..` in a link's target as text, as Node's JS realpathSync
 * does (`a/L` to `F/../z` read as `a/z`), while the system follows `F` first and then goes up from where it led. With
 * `a/F` another account's link to `n/deep/dir`, `a/L` (root's, to `F/../z`) leads to `n/deep/z`: that account picks the
 * folder by re-pointing `F`, yet `a/L` passed where `a/F/x` was refused; and a trusted file read through `a/L` was
 * `a/k`, not the `n/deep/k` that `cat a/L` shows. `..` is now taken as the system takes it: after the links before it
 * are followed, to the parent of the folder reached.
 */
import { lchownSync, mkdirSync, mkdtempSync, readSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withTrustedFile } from '../adapters/driven/files/index.ts';
import { assertNoForeignLinkOn } from '../adapters/driven/files/private-files.ts';
import { deviceCli } from './support/device-cli.ts';

const posix = process.platform !== 'win32';
const asRoot = process.geteuid?.() === 0;
const NOBODY = 65_534;

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * A private folder with `a/F` a link to `n/deep/dir` and `a/L` a link to `F/../<name>`; `a/k` holds "beside the link"
 * and `n/deep/k` "where the system leads", both 0600, and `n/deep/z` is a folder.
 */
const linksGoingUp = (name: string) => {
  const root = mkdtempSync(join(tmpdir(), 'credence-link-up-'));
  made.push(root);
  const a = join(root, 'a');
  const deep = join(root, 'n', 'deep');
  mkdirSync(a, { mode: 0o700 });
  mkdirSync(join(deep, 'dir'), { recursive: true, mode: 0o700 });
  mkdirSync(join(deep, 'z'), { mode: 0o700 });
  writeFileSync(join(a, 'k'), 'beside the link', { mode: 0o600 });
  writeFileSync(join(deep, 'k'), 'where the system leads', { mode: 0o600 });
  const F = join(a, 'F');
  symlinkSync(join(deep, 'dir'), F);
  const L = join(a, 'L');
  symlinkSync(`F/../${name}`, L);
  return { a, F, L, deep };
};

const text = (fd: number): string => {
  const buffer = Buffer.alloc(100);
  return buffer.subarray(0, readSync(fd, buffer, 0, 100, null)).toString();
};

describe.skipIf(!posix)('a link whose target goes up (..) after another link', () => {
  it('a trusted file read through it is the one the system opens, not the one beside the link', () => {
    const { L } = linksGoingUp('k');
    expect(withTrustedFile(L, text)).toEqual({ ok: true, value: 'where the system leads' });
  });

  it('a path given with .. after a link: the same', () => {
    const { F } = linksGoingUp('k');
    expect(withTrustedFile(`${F}/../k`, text)).toEqual({ ok: true, value: 'where the system leads' });
  });
});

describe.skipIf(!posix || !asRoot)('a link whose target goes up (..) after a link another account owns', () => {
  it('a device folder through it is refused, naming that account\'s link', () => {
    const { F, L } = linksGoingUp('z');
    lchownSync(F, NOBODY, NOBODY);
    expect(() => assertNoForeignLinkOn(L, 'dir', 'device folder')).toThrow(`${F} is a link owned by uid ${NOBODY}`);
  });

  it('as `device status` says', async () => {
    const { F, L } = linksGoingUp('z');
    lchownSync(F, NOBODY, NOBODY);
    const run = await deviceCli(['status', '--dir', L]);
    expect(run.code).not.toBe(0);
    expect(run.output).toContain(`${F} is a link owned by uid ${NOBODY}`);
  });

  it('a trusted file through it is refused, naming that account\'s link', () => {
    const { F, L } = linksGoingUp('k');
    lchownSync(F, NOBODY, NOBODY);
    const read = withTrustedFile(L, text);
    expect(read.ok).toBe(false);
    expect(read.ok ? '' : read.message).toContain(`is reached through the link ${F}, owned by uid ${NOBODY}`);
  });

  it('a trusted file given with .. after that link: refused alike', () => {
    const { F } = linksGoingUp('k');
    lchownSync(F, NOBODY, NOBODY);
    const read = withTrustedFile(`${F}/../k`, text);
    expect(read.ok).toBe(false);
    expect(read.ok ? '' : read.message).toContain(`is reached through the link ${F}, owned by uid ${NOBODY}`);
  });
});
