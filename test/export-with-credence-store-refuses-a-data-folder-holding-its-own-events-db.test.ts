import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { runCli } from './support/cli.ts';
import { folderSnapshot } from './support/served-folder.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Review (CLI/start items, f902 #2): `credence export --data DIR`, with CREDENCE_STORE naming another store and DIR
 * holding its own events.db, exported DIR's file (with --config too), made DIR's transparency log and log key, exit 0,
 * while every other local read refuses that folder (exit 2, naming both, nothing written: review 280), and a service
 * run with those settings serves DIR from the other store. Export now chooses as they do: --store, else the store
 * CREDENCE_STORE names (a folder holding its own events.db refused), else the folder's events.db.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const STREAM = 'credential-meter-1';

/** A folder whose embedded store holds `count` events (credential-meter-1 every third), no log and no log key yet. */
const folderWithEvents = async (count: number): Promise<string> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, count);
  await store.close();
  return dir;
};

const exportWith = async (args: string[], env: Record<string, string>) => {
  const out = join(dirs.make(), 'bundle.json');
  const run = await runCli(['export', STREAM, '--out', out, ...args], env);
  const entries = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as { entries: unknown[] }).entries.length : undefined;
  return { ...run, out, entries };
};

describe('credence export of a data folder holding its own events.db while CREDENCE_STORE names another store', () => {
  it('is refused, exit 2, naming the file and env CREDENCE_STORE with the advice, nothing written (no log, no log key)', async () => {
    const own = await folderWithEvents(3);
    const other = await folderWithEvents(6);
    const env = { CREDENCE_STORE: `sqlite:${other}` };
    const config = join(dirs.make(), 'credence.json');
    writeFileSync(config, JSON.stringify({ data: dirs.make() }), { mode: 0o600 });
    const before = folderSnapshot(own);
    const otherBefore = folderSnapshot(other);

    for (const [args, variables] of [
      [['--data', own], env],
      [['--data', own, '--config', config], env],
      [[], { ...env, CREDENCE_DATA: own }],
    ] as const) {
      const refused = await exportWith([...args], variables);
      const said = `export ${args.join(' ')} (${Object.keys(variables).join(', ')})`;
      expect(refused.code, `${said}: ${refused.err}`).toBe(2);
      expect(refused.err, said).toContain(`env CREDENCE_STORE: the data folder ${own} holds its own event store, ${join(own, 'events.db')}`);
      expect(refused.err, said).toMatch(/to read that file, pass --store sqlite:[^;]*\(or unset CREDENCE_STORE\);/);
      expect(refused.err, said).toContain('move that file aside');
      expect(refused.entries, said).toBeUndefined();
      expect(folderSnapshot(own), said).toEqual(before);
      expect(existsSync(join(own, 'transparency.db')), said).toBe(false);
      expect(folderSnapshot(other), said).toEqual(otherBefore);
    }
  });

  it('exports the folder\'s file when --store names it, and when CREDENCE_STORE names the folder itself', async () => {
    const own = await folderWithEvents(3); // one event of credential-meter-1
    const other = await folderWithEvents(6); // two
    const chosen = await exportWith(['--data', own, '--store', `sqlite:${own}`], { CREDENCE_STORE: `sqlite:${other}` });
    expect([chosen.code, chosen.entries], chosen.err).toEqual([0, 1]);
    const itself = await exportWith(['--data', own], { CREDENCE_STORE: `sqlite:${own}` });
    expect([itself.code, itself.entries], itself.err).toEqual([0, 1]);
    expect(existsSync(join(other, 'transparency.db'))).toBe(false);
  });

  it('reads the store CREDENCE_STORE names for a folder without events.db, the log kept in the folder, as serve would', async () => {
    const data = dirs.make();
    const other = await folderWithEvents(6); // two events of credential-meter-1
    const exported = await exportWith(['--data', data], { CREDENCE_STORE: `sqlite:${other}` });
    expect([exported.code, exported.entries], exported.err).toEqual([0, 2]);
    expect([existsSync(join(data, 'events.db')), existsSync(join(data, 'transparency.db'))]).toEqual([false, true]);
    expect(existsSync(join(other, 'transparency.db'))).toBe(false);
  });

  it('refuses a CREDENCE_STORE it cannot read without --config too, naming the variable, never its password', async () => {
    const own = await folderWithEvents(3);
    const before = folderSnapshot(own);
    const refused = await exportWith(['--data', own], { CREDENCE_STORE: 'postgres://admin:s3cret-pw@db/credence' });
    expect(refused.code, refused.err).toBe(2);
    expect(refused.err).toContain('env CREDENCE_STORE');
    expect(refused.err).not.toContain('s3cret-pw');
    expect(folderSnapshot(own)).toEqual(before);
  });
});
