import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asRoot, canDropCapabilities, credenceWithoutCapabilities as credence, readOnlyCopiesOfAStoppedFolder, snapshot, writableAgain } from './support/read-only-folder.ts';

/*
 * Review 271: local `credence token create`, `token revoke` and `token rotate-key` on a data folder this account may
 * not write exited 1 with SQLite's `error: attempt to write a readonly database`, naming no file, where README and
 * docs/service.md's exit codes promise exit 2 naming the folder, as `serve` and `export` say it (`usable_folder`). Each
 * is now refused so before access control is opened, and writes nothing.
 *
 * Run as root, the commands run without capabilities (setpriv empties the bounding set), so they obey the modes as
 * any account does (support/read-only-folder.ts).
 */

describe.skipIf(asRoot && !canDropCapabilities)('a local token command on a data folder this account may not write', () => {
  const { copyOf } = readOnlyCopiesOfAStoppedFolder('credence-token-read-only-');

  const commands = [
    ['token create', ['token', 'create', '--role', 'admin', '--subject', 'root', '--ttl', '1h']],
    ['token revoke', ['token', 'revoke', `tok_${'A'.repeat(22)}`]],
    ['token rotate-key', ['token', 'rotate-key']],
  ] as const;
  // Review 271's: only the folder read-only (chmod 500), its files as they were: SQLite's bare "attempt to write a
  // readonly database". Then the folder and its files read-only, as a clean stop leaves them, and so beside an -shm
  // (a service killed): refused before, naming access.db, as for a command that only reads.
  const folders: readonly { readonly folder: string; readonly beforeReadOnly?: (dir: string) => void; readonly afterReadOnly?: (dir: string) => void }[] = [
    {
      folder: 'whose files stay writable',
      afterReadOnly: (dir) => {
        writableAgain(dir);
        chmodSync(dir, 0o500);
      },
    },
    { folder: 'read-only, files and all' },
    { folder: 'read-only, beside an -shm', beforeReadOnly: (dir) => writeFileSync(join(dir, 'access.db-shm'), Buffer.alloc(32768), { mode: 0o600 }) },
  ];

  it.each(folders.flatMap((f) => commands.map(([name, argv]) => ({ name, argv, ...f }))))(
    '$name on a folder $folder is refused naming the folder, why and what to do (exit 2), and writes nothing',
    ({ name, argv, folder, beforeReadOnly, afterReadOnly }) => {
      const copy = copyOf(`copy-${name.replace(/[^a-z]/g, '-')}-${folder.replace(/[^a-z]/g, '-')}`, beforeReadOnly);
      afterReadOnly?.(copy);
      const before = snapshot(copy);
      const run = credence([...argv, '--data', copy]);
      expect(run.said).not.toMatch(/readonly database|unable to open database file|EACCES: permission denied|a command that only reads/);
      expect(run.said).toContain(`data: ${copy} is not writable by this account (EACCES)`);
      expect(run.said).toContain('access.db');
      expect(run.code, run.said).toBe(2);
      expect(snapshot(copy)).toEqual(before);
    },
    120_000,
  );
});
