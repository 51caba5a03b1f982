/**
 * Review 373 #1: a data folder that was there before the first start, empty (a container volume, systemd's
 * StateDirectory, `mkdir -m700`), kept what a refused start had made in it: `CREDENCE_STORE=esdb://…` with no
 * EventStoreDB running exited 3 and left a KEK, the Secure Environment, keys.db with the infrastructure's keys,
 * access.db, the transparency log and readmodels.db, and the next start on the embedded store was refused as a folder
 * served before ("events.db is missing, but … was served"). A start refused before it keeps the folder now takes away
 * what it added, and only that: what the folder held stays as it was, and a folder that held a served store's files
 * keeps everything.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { SqliteKeyRegistry } from '../adapters/driven/key-registry/index.ts';
import { refuseNewEventStoreForAServedFolder } from '../adapters/runtime/event-store-of-a-served-folder.ts';
import { capture } from './support/cli.ts';
import { closedPort } from './support/closed-port.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-refused-start-existing-folder-');

/** `serve` on `data` with an EventStoreDB no one runs: refused once the folder is locked and filled, exit 3. */
const refusedServe = async (data: string): Promise<void> => {
  const c = capture();
  const code = await main(['serve', '--data', data, '--port', '0'], {
    ...c.io,
    env: { PORT: '', CREDENCE_STORE: `esdb://127.0.0.1:${await closedPort()}?tls=false` },
  });
  const err = c.err.join('\n');
  expect(err).toMatch(/ECONNREFUSED/);
  expect(code, err).toBe(3);
};

describe('a start refused on a data folder that was there', () => {
  it('leaves an empty folder empty, and the next start does not take it for a folder served before', async () => {
    const data = join(scratch(), 'e2');
    mkdirSync(data, { mode: 0o700 });
    await refusedServe(data);
    expect(readdirSync(data)).toEqual([]);
    // What the next `serve --data e2` on its embedded store checks first: it refused the folder as served.
    expect(() => refuseNewEventStoreForAServedFolder(data, undefined, 'data')).not.toThrow();
  }, 60_000);

  it('takes away only what it added: the files and folders the folder held stay, as they were', async () => {
    const data = join(scratch(), 'volume');
    mkdirSync(join(data, 'lost+found'), { recursive: true, mode: 0o700 });
    writeFileSync(join(data, 'lost+found', 'inode-12'), 'recovered');
    writeFileSync(join(data, 'README.txt'), 'the operator\'s note');
    await refusedServe(data);
    expect(readdirSync(data).sort()).toEqual(['README.txt', 'lost+found']);
    expect(readFileSync(join(data, 'README.txt'), 'utf8')).toBe('the operator\'s note');
    expect(readdirSync(join(data, 'lost+found'))).toEqual(['inode-12']);
  }, 60_000);

  it('removes nothing of a folder that holds a served store\'s files', async () => {
    const data = join(scratch(), 'served');
    mkdirSync(data, { mode: 0o700 });
    // A key registry holding no keys yet (a first start killed before it registered them): no sign the start refuses,
    // and still a file only a start makes.
    SqliteKeyRegistry.open({ dir: data }).close();
    await refusedServe(data);
    const after = readdirSync(data);
    expect(after).toContain('keys.db');
    // What the start made beside it stays too: a served folder's files are never sorted into ours and theirs.
    expect(after.length).toBeGreaterThan(1);
  }, 60_000);
});
