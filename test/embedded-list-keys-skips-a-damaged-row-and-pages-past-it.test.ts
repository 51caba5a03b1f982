/**
 * Review 62 F3: listKeys in the embedded Secure Environment showed the key database's rows as they were stored. A
 * damaged or altered row (a handle holding a terminal escape, a kind no Secure Environment has) was listed as it
 * was, and its handle, made a page's `next`, made the next page a TypeError: the paging ended there for good. Such a
 * row is now passed over: not listed, never a cursor, and the keys after it are still reached.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedSecureEnvironment, secureEnvironmentConfigForDataDir } from '../adapters/driven/secure-environment/index.ts';
import type { KeyHandle, KeyListPage } from '../domain/ports/secure-environment.ts';
import { fakeClock, seededRandom } from './crypto-fixtures.ts';

const OWNER = 'node:meter-1';
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const clock = fakeClock();
const openIn = (dir: string, seed: string) => EmbeddedSecureEnvironment.open(secureEnvironmentConfigForDataDir(dir), { now: clock.now, random: seededRandom(seed) });

/** Copies the key `from`'s rows in both files under `handle`, with `changes` to its key row: as review 62 did. */
const copyRows = (dir: string, from: string, handle: string, changes: Record<string, unknown> = {}): void => {
  const db = new Database(join(dir, 'secure-environment.sqlite'));
  try {
    db.prepare('ATTACH DATABASE ? AS wrap').run(join(dir, 'secure-environment.wrapping-keys'));
    const key = { ...(db.prepare('SELECT * FROM main.se_keys WHERE handle = ?').get(from) as Record<string, unknown>), ...changes, handle };
    const columns = Object.keys(key);
    db.prepare(`INSERT INTO main.se_keys (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`).run(key);
    const { sealed } = db.prepare('SELECT sealed FROM wrap.se_wrapping_keys WHERE handle = ?').get(from) as { sealed: Buffer };
    db.prepare('INSERT INTO wrap.se_wrapping_keys (handle, sealed) VALUES (?, ?)').run(handle, sealed);
  } finally {
    db.close();
  }
};

const everyPage = async (se: EmbeddedSecureEnvironment, limit: number): Promise<KeyListPage[]> => {
  const pages: KeyListPage[] = [];
  let after: KeyHandle | undefined;
  do {
    const page = await se.listKeys(OWNER, { limit, ...(after ? { after } : {}) });
    pages.push(page);
    after = page.next;
  } while (after !== undefined && pages.length < 20);
  return pages;
};

describe('listKeys in the embedded Secure Environment', () => {
  it('passes over a damaged row (a handle with a terminal escape, an unknown kind): never listed, never `next`, paging goes on to the end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-se-list-damaged-'));
    dirs.push(dir);
    const se = openIn(dir, 'damaged');
    const live: KeyHandle[] = [];
    for (const kind of ['p256', 'ed25519', 'psk256', 'x25519', 'psk256'] as const) live.push(await se.generate(OWNER, kind));
    se.close();
    live.sort();
    // Just after the second live key in handle order, so a page of one ends on it.
    const escaped = `${live[1]}\u001b[2J`;
    copyRows(dir, live[1]!, escaped, { kind: 'evil\u001b]0;owned\u0007' });
    // A handle the port takes, with a kind it does not have, and one whose creation time is no time.
    copyRows(dir, live[2]!, `${live[2]!.slice(0, -1)}${live[2]!.endsWith('A') ? 'B' : 'A'}`, { kind: 'rsa4096' });
    copyRows(dir, live[3]!, `${live[3]!.slice(0, -1)}${live[3]!.endsWith('A') ? 'B' : 'A'}`, { created_at: '\u001b[31mnow' });

    const reopened = openIn(dir, 'reopened');
    try {
      const all = await reopened.listKeys(OWNER);
      expect(all.keys.map((key) => key.handle)).toEqual(live);
      expect(all.next).toBeUndefined();
      for (const limit of [1, 2, 3]) {
        const pages = await everyPage(reopened, limit);
        expect(pages.flatMap((page) => page.keys.map((key) => key.handle)), `limit ${limit}`).toEqual(live);
        expect(pages.at(-1)?.next, `limit ${limit}`).toBeUndefined();
        for (const page of pages) expect(page.keys.length, `limit ${limit}`).toBe(page.next === undefined ? page.keys.length : limit);
      }
    } finally {
      reopened.close();
    }
  });
});
