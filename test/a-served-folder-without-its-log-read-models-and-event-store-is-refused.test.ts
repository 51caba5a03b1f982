import { existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { folderSnapshot, servedFolderWith } from './support/served-folder.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 84, left from its fix: a served folder whose events.db, transparency log (with its key) and readmodels.db were
 * all moved aside said nothing of its past to the start's check (the log's leaves, the read models' checkpoints), so
 * it looked new: `credence serve` made a new, empty store and served an empty fleet, and `credence start` wrote the
 * demo fleet into it. keys.db says the folder was served: a start registers the infrastructure's keys there, always
 * after making its event store, and nothing an operator runs before the first start makes it.
 */
const scratch = temporaryFolders('credence-served-folder-looks-new-');

const moveAside = (dir: string, aside: string, prefixes: readonly string[]): void => {
  for (const name of readdirSync(dir).filter((n) => prefixes.some((p) => n.startsWith(p)))) renameSync(join(dir, name), join(aside, name));
};

/** Why `credence serve` (startService) refuses `dir`; a start it does not refuse is closed and fails the test. */
const refusal = async (dir: string): Promise<string> => {
  let started: Awaited<ReturnType<typeof startTestService>>;
  try {
    started = await startTestService({ dir });
  } catch (error) {
    return `${(error as { problem?: { issues?: { rule: string }[] } }).problem?.issues?.map((i) => i.rule).join(' ')}: ${(error as Error).message}`;
  }
  await started.close();
  throw new Error(`${dir} was served`);
};

describe('a served folder whose event store, transparency log and read models were all moved aside', () => {
  it('is refused by serve and start, naming events.db and keys.db, before anything is written', async () => {
    const data = scratch();
    const aside = scratch();
    await servedFolderWith(data, ['meter-1', 'meter-2']);
    moveAside(data, aside, ['events.db', 'transparency.', 'readmodels.db']);
    const before = folderSnapshot(data);

    const served = await refusal(data);

    expect(served).toContain('event_store_missing');
    expect(served).toContain(join(data, 'events.db'));
    expect(served).toMatch(/keys\.db holds \d+ keys/);
    expect(served).toMatch(/Restoring a whole data folder/);
    expect(folderSnapshot(data)).toEqual(before);

    // npm start: no demo fleet written into a new store.
    const started = await runCli(['start', '--data', data, '--port', '0', '--log-level', 'silent']);
    expect(started.code).not.toBe(0);
    expect(started.err).toContain(join(data, 'events.db'));
    expect(existsSync(join(data, 'devices'))).toBe(false);
    expect(folderSnapshot(data)).toEqual(before);
  }, 120_000);

  it('starts again once events.db, its log and its read models are put back', async () => {
    const data = scratch();
    const aside = scratch();
    await servedFolderWith(data, ['meter-1']);
    moveAside(data, aside, ['events.db', 'transparency.', 'readmodels.db']);
    expect(await refusal(data)).toContain('event_store_missing');

    moveAside(aside, data, ['events.db', 'transparency.', 'readmodels.db']);
    const svc = await startTestService({ dir: data });
    try {
      expect(await svc.service.context.credence.store.headPosition()).toBeGreaterThan(0n);
    } finally {
      await svc.close();
    }
  }, 120_000);
});

describe('a folder no start has served', () => {
  it('starts with only a configuration file in it', async () => {
    const data = scratch();
    writeFileSync(join(data, 'credence.json'), '{}\n');
    await (await startTestService({ dir: data })).close();
    expect(existsSync(join(data, 'events.db'))).toBe(true);
  }, 120_000);
});
