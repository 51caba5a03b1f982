import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import type { CheckpointSigner } from '../domain/transparency/index.ts';
import { TransparencyLogOfAnotherLog } from '../projections/transparency/index.ts';
import { cmd } from './support/fleet.ts';
import { copyEventStore, hoursAfterT0, writeFleetWithARevokedMeter } from './support/restored-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * close() stops the runner, leaves a signed checkpoint, then closes the log, the read models and the store. A step that
 * fails (the log stopped over a restored events.db, a signer that refuses) used to end it there: every later file and
 * its locks stayed open in the process. SQLite removes a WAL file when the last connection to its database closes, so
 * a `-wal` file left in the folder is a database still open.
 */

const folder = temporaryFolders('credence-close-every-file-');

const open = (dir: string, hours: number): Credence => openCredence({ location: { dir }, clock: hoursAfterT0(hours) });

const openDatabases = (dir: string): string[] => readdirSync(dir).filter((name) => name.endsWith('-wal')).sort();

/** What `close()` came to: 'closed', or what it rejected with. */
const closing = (credence: Credence): Promise<unknown> => credence.close().then(() => 'closed', (error: unknown) => error);

/**
 * A folder whose transparency log logged and signed the cascade's reactions to a revocation, then whose events.db was
 * restored from a backup taken before them: the log refuses the store (as in
 * transparency-log-stays-stopped-when-a-restored-store-re-derives-the-logged-events.test.ts).
 */
const restoredOlderThanItsLog = async (): Promise<string> => {
  const dir = folder();
  const backup = folder();
  await writeFleetWithARevokedMeter(dir);
  copyEventStore(dir, backup);
  const credence = open(dir, 2);
  await credence.settle();
  expect(await closing(credence)).toBe('closed');
  expect(openDatabases(dir)).toEqual([]);
  copyEventStore(backup, dir);
  return dir;
};

describe('closing an instance closes every file, whatever a step of the shutdown met', () => {
  it('closes the log, the read models and the store when the log is stopped over a restored store, and resolves', async () => {
    const dir = await restoredOlderThanItsLog();
    const credence = open(dir, 5);
    await expect(credence.settle()).rejects.toBeInstanceOf(TransparencyLogOfAnotherLog);
    expect(openDatabases(dir)).toEqual(['events.db-wal', 'readmodels.db-wal', 'transparency.db-wal']);

    // The refusal was said by settle: a shutdown in that state is not a failure of its own.
    const closed = await closing(credence);
    expect(openDatabases(dir)).toEqual([]);
    expect(closed).toBe('closed');

    // A fresh instance in the same process opens every file again, and finds the log still stopped.
    const again = open(dir, 6);
    await expect(again.settle()).rejects.toBeInstanceOf(TransparencyLogOfAnotherLog);
    expect(await closing(again)).toBe('closed');
    expect(openDatabases(dir)).toEqual([]);
  });

  it('reports any other failure (a signer that refuses the shutdown checkpoint), only once every file is closed', async () => {
    const dir = folder();
    const refusing: CheckpointSigner = {
      keyName: 'credence.local/log',
      publicKey: new Uint8Array(32),
      sign: () => Promise.reject(new Error('signer: the HSM session is gone')),
    };
    const credence = openCredence({ location: { dir }, clock: hoursAfterT0(1), transparencySigner: refusing });
    await credence.engine.execute(cmd.createSubscription());

    const closed = await closing(credence);
    expect(openDatabases(dir)).toEqual([]);
    expect(closed).toEqual(new Error('signer: the HSM session is gone'));
  });
});
