import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { TransparencyLogOfAnotherLog } from '../projections/transparency/index.ts';
import { cmd, fixture, T0 } from './support/fleet.ts';
import { copyEventStore } from './support/restored-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * The transparency log is append-only and signed: unlike a read model it is never rebuilt. When the event store is
 * restored from a backup older than the log, the log's newest leaf names an event the store no longer holds, and new
 * events take positions the log has already logged; catching up would skip them. It stops instead, saying why.
 */

const folder = temporaryFolders('credence-transparency-restored-');

const open = (dir: string): Credence => openCredence({ location: { dir }, clock: new FakeClock(T0) });

const registerNodes = async (credence: Credence, ids: readonly string[]): Promise<void> => {
  for (const id of ids) await credence.engine.execute(cmd.registerNode(id));
  await credence.settle();
};

/** A data folder whose event store is then restored from a backup taken after `before` and before `after`. */
const restoredFolder = async (before: readonly string[], after: readonly string[]): Promise<{ dir: string; logged: bigint | undefined }> => {
  const dir = folder();
  const backup = folder();
  let credence = open(dir);
  await registerNodes(credence, before);
  await credence.close();
  copyEventStore(dir, backup);
  credence = open(dir);
  await registerNodes(credence, after);
  const logged = credence.transparency!.position;
  await credence.close();
  copyEventStore(backup, dir);
  return { dir, logged };
};

describe('the transparency log over an event store restored from an older backup', () => {
  it('stops with TransparencyLogOfAnotherLog and logs nothing, while the read models are rebuilt', async () => {
    const { dir, logged } = await restoredFolder(['meter-1', 'meter-2'], ['meter-3']);
    const credence = open(dir);
    try {
      const refused = await credence.settle().catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(TransparencyLogOfAnotherLog);
      expect(refused).toMatchObject({ code: 'transparency_log_of_another_log' });
      expect((refused as Error).message).toMatch(/^the transparency log holds events the event store does not \(transparency: the store holds no event at position \d+, which it handled last\)/);
      expect(credence.transparency!.position).toBe(logged);
      expect(logged).toBeGreaterThan((await credence.store.headPosition())!);

      // The read models were rebuilt from the restored log before the transparency log was reached.
      const audited = credence.readModels.prepare('SELECT COUNT(*) AS n FROM audit_events').get() as { n: bigint };
      expect(Number(audited.n)).toBe(Number(await credence.store.headPosition()));
    } finally {
      await credence.close().catch(() => undefined);
    }
  });

  it('stops too when the restored store has since stored other events at the positions it logged', async () => {
    const { dir } = await restoredFolder(['meter-1'], ['meter-2', 'meter-3']);
    const store = openSqliteStoreInDir(dir);
    const { engine } = fixture(store);
    for (const id of ['meter-7', 'meter-8', 'meter-9']) await engine.execute(cmd.registerNode(id));
    await store.close();
    const credence = open(dir);
    try {
      await expect(credence.settle()).rejects.toThrow(/\(transparency: the event at position \d+, which it handled last, is [0-9a-f-]+ in the store, not [0-9a-f-]+\)/);
    } finally {
      await credence.close().catch(() => undefined);
    }
  });
});
