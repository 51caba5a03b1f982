import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { TransparencyLogOfAnotherLog } from '../projections/transparency/index.ts';
import { copyEventStore, hoursAfterT0, writeFleetWithARevokedMeter } from './support/restored-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Event ids are derived from command ids, so an event store restored from a backup older than the transparency log
 * comes to hold the lost events' ids at the same positions again: the cascade re-derives its reactions, decided at a
 * later instant. The log's newest leaf then names an event id the store holds, with other content. Logging on would
 * sign leaves the store contradicts (`credence verify --data`: TAMPERED); the log stops until the operator acts.
 */

const folder = temporaryFolders('credence-transparency-re-derived-');

const open = (dir: string, hours: number): Credence => openCredence({ location: { dir }, clock: hoursAfterT0(hours) });

interface Logged {
  readonly dir: string;
  /** Position of the log's newest leaf, and the tree size its latest checkpoint signs. */
  readonly position: bigint;
  readonly signed: number;
}

/**
 * The folder after the cascade and the log settled at hour 2 over a fleet whose events.db was backed up before, then
 * restored from that backup: the cascade's reactions, all logged and signed, are gone from the store.
 */
const restoredAfterTheCascade = async (): Promise<Logged> => {
  const dir = folder();
  const backup = folder();
  await writeFleetWithARevokedMeter(dir);
  copyEventStore(dir, backup);
  const credence = open(dir, 2);
  const before = await credence.store.headPosition();
  await credence.settle();
  expect(await credence.store.headPosition()).toBeGreaterThan(before!);
  await credence.close();
  const { position, signed } = await logState(dir);
  copyEventStore(backup, dir);
  return { dir, position: position!, signed: signed! };
};

/** What the log of `dir` holds and signed, and whether the store holds the id of its newest leaf at its position. */
const logState = async (dir: string): Promise<{ position: bigint | undefined; signed: number | undefined; sameId: boolean }> => {
  const log = openTransparencyLogInDir(dir);
  const store = openSqliteStoreInDir(dir, { durability: 'normal' });
  try {
    const newest = log.leafAt(log.size() - 1)!;
    const stored = await store.recordAt(newest.position);
    return { position: log.lastPosition(), signed: log.latestCheckpoint()?.treeSize, sameId: stored?.id === newest.eventId };
  } finally {
    log.close();
    await store.close();
  }
};

describe('the transparency log over a restored event store that re-derived the events it logged', () => {
  it('stays stopped with TransparencyLogOfAnotherLog when the same ids come back at the same positions with other content, and signs nothing', async () => {
    const { dir, position, signed } = await restoredAfterTheCascade();
    // Hour 5: the read models are rebuilt, the cascade re-derives its reactions at a later clock, then the log is reached.
    const credence = open(dir, 5);
    try {
      const refused = await credence.settle().catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(TransparencyLogOfAnotherLog);
      expect((refused as Error).message).toMatch(/\(transparency: the event at position \d+, which it handled last, is [0-9a-f-]+ in the store with other content, written again since\)/);
      // The lost events are back where they were, under the ids the log names: only their content differs.
    } finally {
      await credence.close().catch(() => undefined);
    }
    expect(await logState(dir)).toEqual({ position, signed, sameId: true });

    // A fresh process (a restart) refuses as well, and signs nothing.
    const again = open(dir, 6);
    await expect(again.settle()).rejects.toBeInstanceOf(TransparencyLogOfAnotherLog);
    await again.close().catch(() => undefined);
    expect(await logState(dir)).toEqual({ position, signed, sameId: true });
  });

  it('stays stopped once refused, even when the store comes to hold the very events it logged again', async () => {
    const { dir, position, signed } = await restoredAfterTheCascade();
    // Hour 2, the clock the reactions were first decided at: re-derived, they are the logged events byte for byte.
    const credence = open(dir, 2);
    try {
      await expect(credence.transparency!.catchUp()).rejects.toThrow(/the store holds no event at position \d+, which it handled last/);
      while ((await credence.runner.catchUp()) > 0) {
        /* the cascade re-derives its reactions */
      }
      await expect(credence.transparency!.catchUp()).rejects.toThrow(/the store holds no event at position \d+, which it handled last/);
    } finally {
      await credence.close().catch(() => undefined);
    }
    expect(await logState(dir)).toEqual({ position, signed, sameId: true });
  });
});
