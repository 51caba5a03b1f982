import { join } from 'node:path';
import { expect } from 'vitest';
import { openSqliteStoreInDir } from '../../adapters/driven/store/index.ts';
import { run as exportCommand } from '../../bin/commands/export.ts';
import type { RecordedEvent } from '../../domain/ports/index.ts';
import { appendEvents, readAllEvents } from '../transparency-fixtures.ts';
import { capture } from './cli.ts';

/**
 * A data folder made by `dirs` holding `count` stored events, exported once with `credence export` (so every event is
 * logged and covered by a signed checkpoint): what the verify tests audit, then alter. With the events as stored.
 */
export const exportedFolder = async (dirs: { make(): string }, count: number): Promise<{ dir: string; events: RecordedEvent[] }> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, count);
  const events = await readAllEvents(store);
  await store.close();
  const c = capture();
  expect(await exportCommand(['credential-meter-1', '--out', join(dir, 'b.json'), '--data', dir], c.io), c.err.join('\n')).toBe(0);
  return { dir, events };
};
