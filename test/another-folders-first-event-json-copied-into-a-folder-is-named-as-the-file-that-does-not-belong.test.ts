import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { runCli } from './support/cli.ts';
import { cmd } from './support/fleet.ts';
import { folderSnapshot, servedFolderWith } from './support/served-folder.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 286 M2: another folder's first-event.json copied into a data folder (its events.db, transparency.db and every
 * other file its own) was refused naming events.db as the file that does not belong, and advising to put back "the
 * folder's own events.db": the one in place, which the folder's transparency log begins with. Every backup of it was
 * refused the same way. The folder's log now tells which of the two belongs: the one its first leaf agrees with. With
 * no log to tell, the refusal says both possibilities. Refused or not, a start writes nothing first.
 */
const scratch = temporaryFolders('credence-another-folders-first-event-json-');
const clock = new FakeClock(new Date('2026-01-01T00:00:00.000Z'));

const refusal = (path: string) =>
  expect.objectContaining({ problem: expect.objectContaining({ issues: [expect.objectContaining({ path, rule: 'event_store_of_another_folder' })] }) });

/** Two served folders, the second's first-event.json copied into the first; the first's own first-event.json, as it was. */
const folderWithAnothersFirstEvent = async (): Promise<{ ours: string; own: string }> => {
  const ours = scratch();
  const theirs = scratch();
  await servedFolderWith(ours, ['meter-1', 'meter-2']);
  await servedFolderWith(theirs, ['meter-1', 'meter-9']);
  const own = readFileSync(join(ours, 'first-event.json'), 'utf8');
  copyFileSync(join(theirs, 'first-event.json'), join(ours, 'first-event.json'));
  return { ours, own };
};

describe("another folder's first-event.json copied into a data folder whose transparency log agrees with its events.db", () => {
  it('is refused naming first-event.json, not events.db; removed, the start writes the folder\'s own again', async () => {
    const { ours, own } = await folderWithAnothersFirstEvent();
    const before = folderSnapshot(ours);

    await expect(startTestService({ dir: ours })).rejects.toThrow(refusal('data'));
    expect(folderSnapshot(ours)).toEqual(before);

    const served = await runCli(['serve', '--data', ours, '--port', '0', '--log-level', 'silent']);
    expect(served.code).not.toBe(0);
    expect(served.err).toContain(`${join(ours, 'first-event.json')} is the file that does not belong`);
    expect(served.err).toMatch(/transparency\.db/);
    expect(served.err).not.toMatch(/events\.db is the file that does not belong/);
    expect(served.err).not.toMatch(/Put back the folder's own events\.db/);
    expect(folderSnapshot(ours)).toEqual(before);

    expect(() => openCredence({ location: { dir: ours }, clock })).toThrow(/first-event\.json is the file that does not belong/);
    expect(folderSnapshot(ours)).toEqual(before);

    // The remedy the refusal gives: remove it; the start writes it again from the folder's own log.
    rmSync(join(ours, 'first-event.json'));
    await (await startTestService({ dir: ours })).close();
    expect(readFileSync(join(ours, 'first-event.json'), 'utf8')).toBe(own);
  }, 120_000);
});

describe("another folder's events.db and transparency log copied together into a data folder (the wrong backup set)", () => {
  it("is refused saying both possibilities: a log not signed by the folder's own log key tells nothing", async () => {
    // Review 291 M: the other fleet's log begins as its events.db does; taken as the folder's own, the refusal said to
    // remove first-event.json, the one file that did belong, and the folder then served the other fleet's log.
    const ours = scratch();
    const theirs = scratch();
    await servedFolderWith(ours, ['meter-1', 'meter-2']);
    await servedFolderWith(theirs, ['meter-1', 'meter-9']);
    for (const name of readdirSync(ours).filter((n) => n.startsWith('events.db') || n.startsWith('transparency.db'))) rmSync(join(ours, name));
    for (const name of readdirSync(theirs).filter((n) => n.startsWith('events.db') || n.startsWith('transparency.db'))) {
      copyFileSync(join(theirs, name), join(ours, name));
    }
    expect(readFileSync(join(ours, 'transparency.pub'), 'utf8')).not.toBe(readFileSync(join(theirs, 'transparency.pub'), 'utf8'));
    const before = folderSnapshot(ours);

    await expect(startTestService({ dir: ours })).rejects.toThrow(refusal('data'));
    expect(folderSnapshot(ours)).toEqual(before);

    const served = await runCli(['serve', '--data', ours, '--port', '0', '--log-level', 'silent']);
    expect(served.code).not.toBe(0);
    expect(served.err).not.toMatch(/first-event\.json is the file that does not belong/);
    expect(served.err).not.toMatch(/events\.db is the file that does not belong/);
    expect(served.err).toMatch(/has no checkpoint signed by the folder's own log key \(transparency\.pub\)/);
    expect(served.err).toMatch(/Either[\s\S]*events\.db[\s\S]*or[\s\S]*first-event\.json/);
    expect(folderSnapshot(ours)).toEqual(before);

    expect(() => openCredence({ location: { dir: ours }, clock })).toThrow(/cannot tell which file does not belong/);
    expect(folderSnapshot(ours)).toEqual(before);
  }, 120_000);
});

describe('a data folder whose log key is in a file (transparency.key), opened by a program', () => {
  /** A folder opened by openCredence (no Secure Environment: its log key in transparency.key), one event per id, closed (which signs a checkpoint). */
  const openedFolderWith = async (dir: string, nodeIds: readonly string[]): Promise<void> => {
    const credence = openCredence({ location: { dir }, clock });
    try {
      for (const id of nodeIds) await credence.engine.execute(cmd.registerNode(id));
    } finally {
      await credence.close();
    }
  };
  const twoFolders = async (): Promise<{ ours: string; theirs: string }> => {
    const ours = scratch();
    const theirs = scratch();
    await openedFolderWith(ours, ['meter-1', 'meter-2']);
    await openedFolderWith(theirs, ['meter-1', 'meter-9']);
    expect(existsSync(join(ours, 'transparency.key'))).toBe(true);
    expect(existsSync(join(ours, 'transparency.handle'))).toBe(false);
    return { ours, theirs };
  };

  it("given another folder's first-event.json, is refused naming it: its log verifies under transparency.pub", async () => {
    const { ours, theirs } = await twoFolders();
    copyFileSync(join(theirs, 'first-event.json'), join(ours, 'first-event.json'));
    expect(() => openCredence({ location: { dir: ours }, clock })).toThrow(/first-event\.json is the file that does not belong/);
  }, 120_000);

  it("given another folder's events.db and transparency.db together, is refused saying both possibilities", async () => {
    const { ours, theirs } = await twoFolders();
    for (const name of readdirSync(ours).filter((n) => n.startsWith('events.db') || n.startsWith('transparency.db'))) rmSync(join(ours, name));
    for (const name of readdirSync(theirs).filter((n) => n.startsWith('events.db') || n.startsWith('transparency.db'))) {
      copyFileSync(join(theirs, name), join(ours, name));
    }
    const before = folderSnapshot(ours);
    expect(() => openCredence({ location: { dir: ours }, clock })).toThrow(/has no checkpoint signed by the folder's own log key[\s\S]*Either/);
    expect(folderSnapshot(ours)).toEqual(before);
  }, 120_000);
});

describe("another folder's first-event.json in a data folder with no transparency log to tell", () => {
  it('is refused saying both possibilities, blaming neither file alone', async () => {
    const { ours } = await folderWithAnothersFirstEvent();
    // README "Restoring the event store from a backup", step 4: the log, its key and its public key moved aside.
    for (const name of readdirSync(ours).filter((n) => n.startsWith('transparency.'))) rmSync(join(ours, name));
    const before = folderSnapshot(ours);

    await expect(startTestService({ dir: ours })).rejects.toThrow(refusal('data'));
    expect(folderSnapshot(ours)).toEqual(before);

    const served = await runCli(['serve', '--data', ours, '--port', '0', '--log-level', 'silent']);
    expect(served.code).not.toBe(0);
    expect(served.err).toMatch(/no transparency log to tell/);
    expect(served.err).not.toMatch(/events\.db is the file that does not belong/);
    expect(served.err).not.toMatch(/first-event\.json is the file that does not belong/);
    expect(served.err).toMatch(/Either[\s\S]*events\.db[\s\S]*or[\s\S]*first-event\.json/);
    expect(folderSnapshot(ours)).toEqual(before);
  }, 120_000);
});
