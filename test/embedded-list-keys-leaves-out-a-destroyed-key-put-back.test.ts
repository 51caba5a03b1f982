/**
 * listKeys in the embedded Secure Environment reads the key database's rows of one owner, and only those whose
 * wrapping key is there: a destroyed key's row put back (a backup restored over the live database, a re-inserted
 * row) opens nothing, and an operator told it is a key to destroy would be told of a key that no longer exists.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedSecureEnvironment, secureEnvironmentConfigForDataDir } from '../adapters/driven/secure-environment/index.ts';
import { fakeClock, seededRandom } from './crypto-fixtures.ts';
import { keyRowOf, putKeyRowBack } from './support/embedded-key-rows.ts';

const OWNER = 'node:meter-1';
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
    const row = keyRowOf(dir, victim);
    await se.destroy(OWNER, victim);
    se.close();

    putKeyRowBack(dir, row);
    const reopened = openIn(dir, 'reopened');
    try {
      expect(await reopened.listKeys(OWNER)).toEqual({ keys: [{ handle: live, kind: 'p256', usage: 'sign', ephemeral: false, createdAt: clock.now().toISOString() }] });
    } finally {
      reopened.close();
    }
  });
});
