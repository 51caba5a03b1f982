/**
 * The reverse check of review 211 (a folder whose records name keys but has no embedded Secure Environment, opened
 * with the embedded setting) read keys.db only beside a stored key database: a token folder whose transparency.handle
 * was lost, its keys.db the only record left of its keys (nodes' PSKs), was opened with the embedded default, which
 * made an empty embedded Secure Environment beside bindings it holds none of. It is refused now, naming the binding,
 * before anything is made.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteKeyRegistry } from '../adapters/driven/key-registry/sqlite-key-registry.ts';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-keys-db-only-folder-');

const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(readdirSync(dir).sort().map((name) => [name, createHash('sha256').update(readFileSync(join(dir, name))).digest('hex')]));

/** A folder whose only record of keys is keys.db, binding one live PSK and one destroyed key. */
const keysDbOnly = (bindings: readonly { handle: string; destroyed?: boolean }[]): string => {
  const data = join(scratch(), 'data');
  mkdirSync(data);
  const registry = SqliteKeyRegistry.open({ dir: data });
  for (const { handle, destroyed } of bindings) {
    registry.register('credential-node-7', handle, 'psk256');
    if (destroyed === true) registry.markDestroyed('credential-node-7', handle, new Date('2026-01-01T00:00:00Z'));
  }
  registry.close();
  return data;
};

describe('a folder whose only record of its keys is keys.db, opened with the embedded Secure Environment', () => {
  it.each([
    ['serve', '--port', '0', '--log-level', 'silent'],
    ['token', 'create', '--role', 'admin', '--subject', 'first-admin', '--ttl', '1h'],
    ['ca', 'init'],
  ])('`%s %s` is refused (exit 1) naming the binding, the folder unchanged', async (...args) => {
    const data = keysDbOnly([{ handle: 'slot-1-psk-a' }]);
    const before = snapshot(data);
    const refused = await runCli([...args, '--data', data]);
    expect(refused.code, refused.err).toBe(1);
    expect(refused.err).toContain('the data folder names 1 key (a key keys.db binds (psk256), slot-1-psk-a) but has no embedded Secure Environment');
    expect(snapshot(data)).toEqual(before);
  });

  it('is not refused for bindings whose keys were all destroyed: the folder names no key', async () => {
    const data = keysDbOnly([{ handle: 'slot-1-psk-b', destroyed: true }]);
    const made = await runCli(['ca', 'init', '--data', data]);
    expect(made.code, made.err).toBe(0);
  });
});
