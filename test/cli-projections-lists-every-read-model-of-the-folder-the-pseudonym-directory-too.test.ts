/**
 * Review 233: `credence projections` on a data folder listed only the read models the CLI builds itself. The pseudonym
 * directory (built by the service, which holds the pseudonym key) was left out, and the rest were named up to date over
 * a directory behind the head. Every checkpoint the folder holds is listed now: the pseudonym directory counted by its
 * event types (no key needed), a read model this version does not know shown with its checkpoint, counted by the service.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { runCli } from './support/cli.ts';
import { cmd, fixture, T0 } from './support/fleet.ts';
import { testKey } from './support/pseudonym-fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-projections-every-row-');

/** A stopped folder whose pseudonym directory is one registration behind, the CLI's read models caught up, and a row of another version's read model. */
const directoryBehind = async (): Promise<string> => {
  const dir = scratch();
  const c = openCredence({ location: { dir }, clock: new FakeClock(T0), pseudonyms: { key: testKey } });
  await c.engine.execute(cmd.createSubscription());
  await c.engine.execute(cmd.registerNode('meter-1'));
  await c.settle();
  await c.close();
  const store = openSqliteStoreInDir(dir);
  await fixture(store).engine.execute(cmd.registerNode('meter-2'));
  await store.close();
  const rebuilt = await runCli(['projections', 'rebuild', 'all', '--data', dir]);
  expect(rebuilt.code, rebuilt.err).toBe(0);
  const db = new Database(join(dir, 'readmodels.db'));
  db.prepare("INSERT INTO projection_checkpoints (name, position, occurred_at) VALUES ('someday', 1, ?)").run(T0);
  db.close();
  return dir;
};

describe('credence projections on a data folder the service built a pseudonym directory in', () => {
  it('lists the directory with its events to handle, never as up to date, and a read model it does not know as counted by the service', async () => {
    const dir = await directoryBehind();
    const { code, out, err } = await runCli(['projections', '--data', dir]);
    expect(code, err).toBe(0);
    const row = out.split('\n').find((l) => l.startsWith('pseudonyms '))?.trim().split(/ +/);
    expect(row, out).toBeDefined();
    const [, checkpoint, head, toHandle] = row!;
    expect(BigInt(checkpoint!)).toBeLessThan(BigInt(head!));
    expect(toHandle).toBe('1');
    const upToDate = out.split('\n').find((l) => l.startsWith('up to date:')) ?? '';
    expect(upToDate).not.toContain('pseudonyms');
    expect(out).toMatch(/^someday +1 +\d+ +- +-$/m);
    expect(out).toContain('counted by the service: someday');
  });

  it('has them in --json too, the largest lag counting the directory', async () => {
    const dir = await directoryBehind();
    const run = await runCli(['projections', '--data', dir, '--json']);
    expect(run.code, run.err).toBe(0);
    const doc = JSON.parse(run.out) as { components: { name: string; eventsBehind?: number; state?: string }[]; lag: { eventsBehind: number } };
    expect(doc.components.find((c) => c.name === 'pseudonyms')).toMatchObject({ eventsBehind: 1 });
    expect(doc.components.find((c) => c.name === 'someday')).toEqual({ name: 'someday', checkpoint: '1', head: expect.any(String), state: 'counted-by-the-service' });
    expect(doc.lag.eventsBehind).toBeGreaterThanOrEqual(1);
  });
});
