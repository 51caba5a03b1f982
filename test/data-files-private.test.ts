import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { capture } from './support/cli.ts';
import { operator, T0 } from './support/fleet.ts';

// Security issue 11 item 13: data files were created world-readable, and any data folder was accepted.

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-modes-'));
  dirs.push(dir);
  return dir;
};

/** Every entry under `root` with its permission bits, as `path: mode` in octal (the public key file excepted). */
const modes = (root: string): Record<string, string> => {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const stat = statSync(path);
      out[relative(root, path)] = (stat.mode & 0o777).toString(8);
      if (stat.isDirectory()) walk(path);
    }
  };
  out['.'] = (statSync(root).mode & 0o777).toString(8);
  walk(root);
  return out;
};
const notPrivate = (found: Record<string, string>, isDir: (path: string) => boolean) =>
  Object.entries(found).filter(([path, mode]) => !path.endsWith('.pub') && mode !== (isDir(path) ? '700' : '600'));

/** Runs `body` with a permissive umask, so nothing passes only because the test runner's umask was strict. */
const underUmask = async <T>(mask: number, body: () => Promise<T>): Promise<T> => {
  const previous = process.umask(mask);
  try {
    return await body();
  } finally {
    process.umask(previous);
  }
};

describe('data files are private to their owner', () => {
  it('openCredence on a new data folder creates it 0700 and every database, journal and key file in it 0600', async () => {
    const dir = join(scratch(), 'data');
    const clock = new FakeClock(T0);
    const se = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => clock.now(), random: (n) => crypto.getRandomValues(new Uint8Array(n)) });
    await underUmask(0o002, async () => {
      const c = openCredence({ location: { dir }, clock, security: { se, random: (n) => crypto.getRandomValues(new Uint8Array(n)), actor: operator } });
      await c.security();
      await c.engine.execute({ type: 'registerNode', data: { nodeId: 'meter-1', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] } }, metadata: { actor: operator } });
      await c.settle();
      // While open: the -wal and -shm files exist too.
      const open = modes(dir);
      expect(notPrivate(open, (p) => p === '.')).toEqual([]);
      expect(Object.keys(open)).toEqual(expect.arrayContaining(['events.db', 'events.db-wal', 'events.db-shm', 'readmodels.db', 'readmodels.db-wal', 'keys.db', 'keys.db-wal', 'transparency.db', 'transparency.key']));
      await c.close();
    });
    se.close();
    expect(notPrivate(modes(dir), (p) => p === '.')).toEqual([]);
  });

  it("npm start's demo leaves every data folder 0700 and every data file 0600, the Secure Environments' included", async () => {
    const dir = join(scratch(), 'data');
    const { io } = capture();
    expect(await underUmask(0o002, () => main(['demo', '--data', dir], io))).toBe(0);
    const found = modes(dir);
    expect(notPrivate(found, (p) => statSync(join(dir, p)).isDirectory())).toEqual([]);
    expect(Object.keys(found)).toEqual(expect.arrayContaining(['events.db', 'readmodels.db', 'keys.db', 'transparency.db', 'secure-environment.sqlite', 'devices', 'devices/meter-1/secure-environment.sqlite']));
  });

  it.each([
    ['group', 0o770],
    ['others', 0o703],
  ])('refuses a data folder writable by %s, naming the folder and the fix, and writes nothing in it', async (_who, mode) => {
    const dir = join(scratch(), 'shared');
    mkdirSync(dir);
    chmodSync(dir, mode);
    const error = (() => {
      try {
        openCredence({ location: { dir }, clock: new FakeClock(T0) });
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    expect(isCredenceError(error, 'validation')).toBe(true);
    expect((error as Error).message).toContain(dir);
    expect((error as Error).message).toContain(`chmod 700 ${dir}`);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(join(dir, 'events.db'))).toBe(false);
  });
});
