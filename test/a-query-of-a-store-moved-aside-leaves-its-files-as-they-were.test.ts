import { createHash } from 'node:crypto';
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 174: README's restore step lists the revocations of the log moved aside with `credence query revocations
 * --store sqlite:<data>.before-restore --data <scratch>`, "nothing in <data>.before-restore/ is written"; but the
 * query opened that store writable, and a killed service's events still in its -wal were checkpointed into events.db
 * and the -wal and -shm removed: the evidence changed. A command that only reads opens a `sqlite:` store read-only.
 */
const folder = temporaryFolders('credence-query-aside-');

const cli = async (argv: string[]) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env: {} });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

const digests = (dir: string): Record<string, string> =>
  Object.fromEntries(readdirSync(dir).sort().map((name) => [name, createHash('sha256').update(readFileSync(join(dir, name))).digest('hex')]));

/** A copy of a folder whose service was killed: its events in the -wal, not yet in events.db (the store still open when copied). */
const killedServiceFolder = async (): Promise<string> => {
  const live = folder();
  const store = openSqliteStoreInDir(live);
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  await engine.execute(cmd.registerNode('meter-1'));
  await engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
  const aside = folder();
  for (const name of ['events.db', 'events.db-wal', 'events.db-shm']) copyFileSync(join(live, name), join(aside, name));
  await store.close();
  return aside;
};

describe('a query of a store moved aside', () => {
  it('answers the events still in its -wal, and leaves its events.db and -wal byte for byte as they were', async () => {
    const aside = await killedServiceFolder();
    const before = digests(aside);
    expect(Object.keys(before)).toEqual(['events.db', 'events.db-shm', 'events.db-wal']);
    const result = await cli(['query', 'revocations', '--store', `sqlite:${aside}`, '--data', folder(), '--json']);
    expect(result.code, result.err).toBe(0);
    expect(result.out).toContain('node-meter-1');
    // The -shm is SQLite's WAL index, no record: every reader of a WAL file rebuilds it at the first open and marks
    // what it reads in it, a read-only one too (better-sqlite3 has no `readonly_shm`). The records are unchanged.
    const after = digests(aside);
    expect(Object.keys(after)).toEqual(Object.keys(before));
    expect(after['events.db']).toBe(before['events.db']);
    expect(after['events.db-wal']).toBe(before['events.db-wal']);
  });
});
