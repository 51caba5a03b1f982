import { existsSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deviceCli } from './support/device-cli.ts';

// Found in review 302: a device folder given as a link that another account owns was followed (a link is judged by its
// target): as `nobody`, a link /tmp/x to a root-owned folder; root's `device init --dir /tmp/x` took the lock inside
// the target. As ssh's StrictModes, a link on the folder's path owned by neither the caller nor root is refused,
// naming the link and its owner, before anything is made in the target. Needs root to give a link away.

const root = mkdtempSync(join(tmpdir(), 'credence-foreign-link-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const NOBODY = 65_534;
const asRoot = process.geteuid?.() === 0;

describe.skipIf(!asRoot)('a device folder through a link another account owns', () => {
  const target = join(root, 'roots-folder');
  mkdirSync(target, { mode: 0o700 });
  /** A link `name` in the scratch folder to `to` (the root-owned folder by default), given to `nobody`. */
  const foreignLink = (name: string, to = target): string => {
    const link = join(root, name);
    symlinkSync(to, link);
    lchownSync(link, NOBODY, NOBODY);
    return link;
  };
  /** `device status --dir dir` is refused, naming `link` as the other account's. */
  const statusRefusedNaming = async (dir: string, link: string): Promise<void> => {
    const run = await deviceCli(['status', '--dir', dir]);
    expect(run.code).not.toBe(0);
    expect(run.output).toContain(`${link} is a link owned by uid ${NOBODY}`);
  };

  it('is refused by init, naming the link and its owner, and nothing is made in the target', async () => {
    const link = foreignLink('x');
    const run = await deviceCli(['init', '--dir', link, '--node-id', 'meter-link', '--kind', 'ed25519', '--server', 'http://127.0.0.1:2', '--token', 't']);
    expect(run.code).not.toBe(0);
    expect(run.output).toContain(`${link} is a link owned by uid ${NOBODY}`);
    expect(readdirSync(target)).toEqual([]);
  });

  it('is refused when the link is a folder above the device folder, as status says', async () => {
    const link = foreignLink('up');
    await statusRefusedNaming(join(link, 'dev'), link);
  });

  // Review 304 item 1: only the names of the path as given were lstat-ed, so a link of root's (or this account's) to
  // another account's link was followed through it unseen: each link's target is walked name by name as well.
  it('is refused when the link is reached through a link root owns (two hops), naming the other account\'s link', async () => {
    const foreign = foreignLink('hop2');
    const first = join(root, 'hop1');
    symlinkSync(foreign, first);
    await statusRefusedNaming(first, foreign);
  });

  it('is refused when a link root owns leads to a path under the other account\'s link, given relative', async () => {
    const foreign = foreignLink('hop-up');
    const first = join(root, 'hop-rel');
    symlinkSync('hop-up/dev', first);
    await statusRefusedNaming(first, foreign);
  });

  it('a link root owns is followed as before', async () => {
    const link = join(root, 'mine');
    symlinkSync(target, link);
    const run = await deviceCli(['status', '--dir', link]);
    expect(run.output).not.toMatch(/is a link owned by/);
    expect(existsSync(link)).toBe(true);
  });
});
