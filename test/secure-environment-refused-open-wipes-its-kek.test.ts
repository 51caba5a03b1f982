import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KeyVault } from '../adapters/driven/secure-environment/key-vault.ts';

/*
 * KeyVault.open takes ownership of the KEK and wipes it on a refusal. A refusal while the key database was opened
 * (a file that is not a database, one locked past the busy timeout) came before that promise was kept: the KEK stayed
 * in memory and the connection open (found in review).
 */
describe('a Secure Environment open refused before its checks', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('wipes the KEK it was given when the key database is not a database', () => {
    const folder = (dir = mkdtempSync(join(tmpdir(), 'credence-se-refused-')));
    const database = join(folder, 'keys.sqlite');
    writeFileSync(database, Buffer.alloc(8192, 'not a key database '));
    const kek = new Uint8Array(randomBytes(32));
    expect(() => KeyVault.open(database, join(folder, 'keys.wrapping-keys'), kek, (n) => new Uint8Array(randomBytes(n)))).toThrow(/not a database/);
    expect(kek.every((byte) => byte === 0)).toBe(true);
  });
});
