/**
 * Issue 11 item 10: REQUIREMENTS says replay protection survives restarts (SER-012), so an instance with a data
 * folder keeps its replay cache there by default (`replay-cache.db`); only an in-memory instance keeps it in memory.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { securityWorld } from './support/security-world.ts';

describe('the default replay cache of openCredence (issue 11 item 10)', () => {
  it('is persisted in the data folder: what a provisioning run remembered is still on disk after the instance closed', async () => {
    const world = await securityWorld('replay-default');
    try {
      await world.provisioned('node-1', 'ed25519', 'p256');
      await world.credence.close();
      const path = join(world.dir, 'replay-cache.db');
      expect(existsSync(path)).toBe(true);
      const db = new Database(path, { readonly: true });
      try {
        const rows = db.prepare('SELECT namespace, key FROM replay_entries ORDER BY key').all() as { namespace: string; key: string }[];
        // The run's nonce and transcript, and the node's run slot, in the Enrolment Function's own namespace.
        expect(rows.map((r) => [r.namespace, r.key.split(':')[0]])).toEqual([
          ['provisioning:MEF-1', 'nonce'],
          ['provisioning:MEF-1', 'runs'],
          ['provisioning:MEF-1', 'transcript'],
        ]);
      } finally {
        db.close();
      }
    } finally {
      world.infraSe.close();
      for (const d of world.devices) d.se.close();
      // The instance is closed above (what the test reads is what it left on disk): only its folder is left to remove.
      rmSync(world.dir, { recursive: true, force: true });
    }
  }, 60_000);
});
