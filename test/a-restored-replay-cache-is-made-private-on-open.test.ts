import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openReplayCache } from '../adapters/driven/replay-cache/index.ts';

/*
 * Review 47 item 2: replay-cache.db was opened under a private umask only, so a copy a restore left 0644 (and its
 * -wal/-shm) stayed readable by every local user, against README's "every file in it 0600". Opening it tightens it.
 */
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe.skipIf(process.platform === 'win32')('a restored replay cache', () => {
  it('a replay-cache.db and its -wal/-shm left 0644 are 0600 once the instance opens its replay cache', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-replay-modes-'));
    dirs.push(dir);
    const path = join(dir, 'replay-cache.db');
    // A restored copy, still open elsewhere so its -wal and -shm exist, all readable by others.
    const restored = new Database(path);
    restored.pragma('journal_mode = WAL');
    restored.exec('CREATE TABLE restored (x INTEGER)');
    restored.exec('INSERT INTO restored VALUES (1)');
    const files = [path, `${path}-wal`, `${path}-shm`];
    try {
      for (const file of files) {
        expect(existsSync(file)).toBe(true);
        chmodSync(file, 0o644);
      }
      const cache = openReplayCache({ dir });
      try {
        expect(files.map(mode)).toEqual(['600', '600', '600']);
        expect(await cache.namespace('protocol').remember('nonce:a', new Date(0))).toBe('fresh');
      } finally {
        cache.close();
      }
    } finally {
      restored.close();
    }
  });
});
