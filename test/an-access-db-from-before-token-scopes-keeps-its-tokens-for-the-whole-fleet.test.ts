import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openAccessRegistry } from '../adapters/runtime/index.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * access.db version 4 records an integrator token's scope (SER-025). A file version 3 wrote gains the column on open;
 * its tokens have no scope, so they read the whole fleet as they did (existing integrator tokens keep working).
 */
const folder = temporaryFolders('credence-access-v3-');

const token = (tokenId: string, scope?: { subscriptions?: string[]; appIds?: string[] }) => ({
  tokenId,
  subject: 'city-01',
  role: 'integrator',
  issuedAt: new Date('2026-12-01T00:00:00Z'),
  expiresAt: new Date('2026-12-02T00:00:00Z'),
  issuedBy: 'test',
  signedWith: 'key-1',
  maxActiveForSubject: 10,
  ...(scope !== undefined ? { scope } : {}),
});

describe('an access.db of version 3', () => {
  it('is brought to version 4: its tokens stay unscoped, and new ones keep their scope', () => {
    const dir = folder();
    const first = openAccessRegistry({ dir });
    first.claimSigningKey('key-1', new Date('2026-12-01T00:00:00Z'));
    expect(first.record(token('tok_AAAAAAAAAAAAAAAAAAAAAA'))).toBe('recorded');
    first.close();
    // As version 3 left it: no scope column.
    const db = new Database(join(dir, 'access.db'));
    db.exec('ALTER TABLE tokens DROP COLUMN scope');
    db.pragma('user_version = 3');
    db.close();

    const registry = openAccessRegistry({ dir });
    try {
      expect(registry.find('tok_AAAAAAAAAAAAAAAAAAAAAA')).not.toHaveProperty('scope');
      expect(registry.record(token('tok_BBBBBBBBBBBBBBBBBBBBBB', { subscriptions: ['sub-01'], appIds: ['Rapp01'] }))).toBe('recorded');
      expect(registry.find('tok_BBBBBBBBBBBBBBBBBBBBBB')!.scope).toEqual({ subscriptions: ['sub-01'], appIds: ['Rapp01'] });
    } finally {
      registry.close();
    }
    const check = new Database(join(dir, 'access.db'), { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(4);
    check.close();
  });
});
