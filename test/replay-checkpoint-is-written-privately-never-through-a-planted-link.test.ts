import { chmodSync, lstatSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { CheckpointFile } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { verifyFleet } from '../adapters/replay-workers/verify-fleet.ts';
import { establishOne, fixture } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * The replay checkpoint was written to `replay-checkpoint.json.<pid>.tmp` with a plain write (O_TRUNC, following
 * links) and renamed into place (found in review 24): a link planted at that predictable name had the checkpoint
 * written into the file it pointed at and the checkpoint itself become the link, and a stale temp file's mode was
 * kept. A data folder given beside an EventStoreDB store is not made private by the store, and a container's pid is
 * the same on every run. It is now written as every other single-file state of the data folder is.
 */
describe('the replay checkpoint is written privately, never through a planted link', () => {
  const folder = temporaryFolders('credence-checkpoint-link-');

  it('leaves a file linked at the old temp name alone, writes a regular file of mode 0600, and reads it back', async () => {
    const root = folder();
    const dir = join(root, 'data');
    const store = openSqliteStoreInDir(dir);
    try {
      await establishOne(fixture(store).engine);
      const victim = join(root, 'victim');
      writeFileSync(victim, 'victim');
      const checkpoint = new CheckpointFile(dir);
      symlinkSync(victim, `${checkpoint.path}.${process.pid}.tmp`);
      // A checkpoint left readable by others (an older build's, a copy): the new one is private whatever it replaces.
      writeFileSync(checkpoint.path, '{}');
      chmodSync(checkpoint.path, 0o644);

      const first = await verifyFleet(store, { checkpoint });
      expect(first.notes.join('\n')).toContain('checkpoint ignored');
      expect(readFileSync(victim, 'utf8')).toBe('victim');
      expect(lstatSync(checkpoint.path).isSymbolicLink()).toBe(false);
      expect(statSync(checkpoint.path).mode & 0o777).toBe(0o600);
      expect(checkpoint.load()).toMatchObject({ ok: true, checkpoint: { position: String(first.replay.events) } });
      expect(await verifyFleet(store, { checkpoint })).toMatchObject({ mode: 'incremental', verifiedNow: 0 });
      // No temp file of ours is left behind; the planted link and the unreadable file moved aside (review 228), made
      // private too, are the only other entries.
      expect(statSync(checkpoint.asidePath).mode & 0o777).toBe(0o600);
      expect(readdirSync(dir).filter((name) => name.includes('replay-checkpoint')).sort()).toEqual(
        ['replay-checkpoint.json', `replay-checkpoint.json.${process.pid}.tmp`, 'replay-checkpoint.json.unreadable'].sort(),
      );
    } finally {
      await store.close();
    }
  });
});
