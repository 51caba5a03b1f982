/**
 * listKeys in the embedded Secure Environment reads the key database's rows of one owner, and only those whose
 * wrapping key is there: a destroyed key's row put back (a backup restored over the live database, a re-inserted
 * row) opens nothing, and an operator told it is a key to destroy would be told of a key that no longer exists.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedSecureEnvironment, secureEnvironmentConfigForDataDir } from '../adapters/driven/secure-environment/index.ts';
import { fakeClock, seededRandom } from './crypto-fixtures.ts';

const OWNER = 'node:meter-1';
const DATABASE = 'secure-environment.sqlite';
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const clock = fakeClock();
const openIn = (dir: string, seed: string) => EmbeddedSecureEnvironment.open(secureEnvironmentConfigForDataDir(dir), { now: clock.now, random: seededRandom(seed) });

describe('listKeys in the embedded Secure Environment', () => {
  it("a destroyed key's row re-inserted into the key database is not listed; a live key is, with the time it was made", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-se-list-'));
    dirs.push(dir);
    const se = openIn(dir, 'list');
    const live = await se.generate(OWNER, 'p256');
    const victim = await se.generate(OWNER, 'ed25519');
    const db = new Database(join(dir, DATABASE), { readonly: true });
    const row = db.prepare('SELECT * FROM se_keys WHERE handle = ?').get(victim) as Record<string, unknown>;
    db.close();
    await se.destroy(OWNER, victim);
    se.close();

    const database = new Database(join(dir, DATABASE));
    const columns = Object.keys(row);
    database.prepare(`INSERT INTO se_keys (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`).run(row);
    database.close();
    const reopened = openIn(dir, 'reopened');
    try {
      expect(await reopened.listKeys(OWNER)).toEqual({ keys: [{ handle: live, kind: 'p256', usage: 'sign', ephemeral: false, createdAt: clock.now().toISOString() }] });
    } finally {
      reopened.close();
    }
  });
});
