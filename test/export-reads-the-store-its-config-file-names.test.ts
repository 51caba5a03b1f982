import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir, openStore } from '../adapters/driven/store/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { startStandIn } from './esdb-standin/index.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review: `credence export --config FILE` took the data folder and the Secure Environment from the service's
 * file but not its `store`, so a service on EventStoreDB (or on `sqlite:` elsewhere) was exported from the data
 * folder's events.db, or refused for having none. The file's store is read now, unless --store or --data names one.
 * Found in review after: the service's CREDENCE_DATA and CREDENCE_STORE were not read, so a service run with
 * CREDENCE_STORE=esdb://… and a config file was exported from another store. They win over the file now, as for serve.
 * CREDENCE_STORE names the store over --data too (f902 #2): a --data folder holding its own events.db is refused.
 */

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const STREAM = 'credential-meter-1';

/** A folder whose embedded store holds `count` events, round-robin over three streams (credential-meter-1 first). */
const folderWithEvents = async (count: number): Promise<string> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, count);
  await store.close();
  return dir;
};

const configFile = (settings: Record<string, unknown>, mode = 0o600): string => {
  const file = join(dirs.make(), 'credence.json');
  writeFileSync(file, JSON.stringify(settings), { mode });
  return file;
};

const exportWith = async (args: string[], env: Record<string, string> = {}) => {
  const out = join(dirs.make(), 'bundle.json');
  const c = capture();
  const code = await main(['export', STREAM, '--out', out, ...args], { ...c.io, env });
  const said = [...c.out, ...c.err].join('\n');
  return { code, out, said, entries: existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as { entries: unknown[] }).entries.length : undefined };
};

/**
 * An EventStoreDB stand-in holding 6 events (two of credential-meter-1), named by a connection string that carries a
 * password: `run` exports with it, and the password must never be said nor written into the bundle.
 */
const withEventStoreDb = async (run: (withPassword: string) => Promise<{ said: string; out: string }>): Promise<void> => {
  const standIn = await startStandIn();
  try {
    const store = openStore(standIn.connectionString);
    await appendEvents(store, 6);
    await store.close();
    const exported = await run(standIn.connectionString.replace('esdb://', 'esdb://admin:s3cret-pw@'));
    expect(exported.said).not.toContain('s3cret-pw');
    expect(readFileSync(exported.out, 'utf8')).not.toContain('s3cret-pw');
  } finally {
    await standIn.stop();
  }
};

describe("credence export --config reads the event store of the service's file", () => {
  it("reads the file's store sqlite:OTHERDIR, keeping the log in the file's data folder", async () => {
    const other = await folderWithEvents(6); // two events of credential-meter-1
    const data = dirs.make();
    const exported = await exportWith(['--config', configFile({ data, store: `sqlite:${other}` })]);
    expect(exported.said).not.toContain('no event store');
    expect([exported.code, exported.entries]).toEqual([0, 2]);
    expect(existsSync(join(data, 'events.db'))).toBe(false);
    expect(existsSync(join(data, 'transparency.db'))).toBe(true);
  });

  it("reads the file's EventStoreDB store and never says the password it carries", async () => {
    await withEventStoreDb(async (withPassword) => {
      // Readable by others, as the service would be warned of it: the warning names the file, not the string.
      const config = configFile({ data: dirs.make(), store: withPassword }, 0o644);
      const exported = await exportWith(['--config', config]);
      expect([exported.code, exported.entries]).toEqual([0, 2]);
      expect(exported.said).toContain(`file ${config}: store: the connection string carries a password and the file is readable by group or others`);
      return exported;
    });
  });

  it("--store or --data on the command line wins over the file's store", async () => {
    const fromFile = await folderWithEvents(6);
    const named = await folderWithEvents(3); // one event of credential-meter-1
    const config = configFile({ data: dirs.make(), store: `sqlite:${fromFile}` });
    expect((await exportWith(['--config', config, '--data', named])).entries).toBe(1);
    expect((await exportWith(['--config', config, '--store', `sqlite:${named}`])).entries).toBe(1);
  });

  it("refuses a file whose store holds no events, naming the file's setting, and writes nothing", async () => {
    const empty = dirs.make();
    const config = configFile({ data: dirs.make(), store: `sqlite:${empty}` });
    const refused = await exportWith(['--config', config]);
    expect(refused.code).toBe(2);
    expect(refused.said).toContain(`file ${config}: store: no event store in ${empty}`);
    expect([refused.entries, existsSync(join(empty, 'events.db'))]).toEqual([undefined, false]);
  });
});

describe("credence export --config reads the service's CREDENCE_DATA and CREDENCE_STORE over the file, as serve does", () => {
  it("reads the store CREDENCE_STORE names, not the file's", async () => {
    const fromFile = await folderWithEvents(6); // two events of credential-meter-1
    const fromVariable = await folderWithEvents(3); // one
    const data = dirs.make();
    const config = configFile({ data, store: `sqlite:${fromFile}` });
    const exported = await exportWith(['--config', config], { CREDENCE_STORE: `sqlite:${fromVariable}` });
    expect([exported.code, exported.entries]).toEqual([0, 1]);
    // The log stays in the service's data folder, as serve keeps it there whatever the store.
    expect([existsSync(join(data, 'transparency.db')), existsSync(join(fromVariable, 'transparency.db'))]).toEqual([true, false]);
  });

  it("reads the EventStoreDB store of CREDENCE_STORE when the file names none, and never says its password", async () => {
    await withEventStoreDb(async (withPassword) => {
      const exported = await exportWith(['--config', configFile({ data: dirs.make() })], { CREDENCE_STORE: withPassword });
      expect([exported.code, exported.entries]).toEqual([0, 2]);
      return exported;
    });
  });

  it('reads the data folder CREDENCE_DATA names, its store and its log, not the file\'s folder', async () => {
    const fromVariable = await folderWithEvents(3);
    const fromFile = dirs.make();
    const exported = await exportWith(['--config', configFile({ data: fromFile })], { CREDENCE_DATA: fromVariable });
    expect([exported.code, exported.entries]).toEqual([0, 1]);
    expect([existsSync(join(fromVariable, 'transparency.db')), existsSync(join(fromFile, 'transparency.db'))]).toEqual([true, false]);
  });

  it('refuses a store of CREDENCE_STORE or a folder of CREDENCE_DATA without events, naming the variable, and writes nothing', async () => {
    const empty = dirs.make();
    const config = configFile({ data: dirs.make() });
    const fromStore = await exportWith(['--config', config], { CREDENCE_STORE: `sqlite:${empty}` });
    expect([fromStore.code, fromStore.entries]).toEqual([2, undefined]);
    expect(fromStore.said).toContain(`env CREDENCE_STORE: no event store in ${empty}`);
    const fromData = await exportWith(['--config', config], { CREDENCE_DATA: empty });
    expect([fromData.code, fromData.entries]).toEqual([2, undefined]);
    expect(fromData.said).toContain(`env CREDENCE_DATA: no event store in ${empty}`);
    expect(existsSync(join(empty, 'events.db'))).toBe(false);
  });

  it('refuses a CREDENCE_STORE the client cannot read, naming the variable and never its password', async () => {
    const refused = await exportWith(['--config', configFile({ data: dirs.make() })], { CREDENCE_STORE: 'esdb://admin:s3cret-pw@localhost:2113?bogusOption=1' });
    expect([refused.code, refused.entries]).toEqual([2, undefined]);
    expect(refused.said).toContain('env CREDENCE_STORE');
    expect(refused.said).not.toContain('s3cret-pw');
  });

  it('--store on the command line wins over CREDENCE_STORE; a --data folder holding its own events.db is refused, with --config or without, as every local read refuses it', async () => {
    const fromVariable = await folderWithEvents(6);
    const named = await folderWithEvents(3);
    const variables = { CREDENCE_STORE: `sqlite:${fromVariable}`, CREDENCE_DATA: fromVariable };
    const config = configFile({ data: dirs.make() });
    expect((await exportWith(['--config', config, '--store', `sqlite:${named}`], variables)).entries).toBe(1);
    // f902 #2: --data names the folder, not its store, as for serve (test/export-with-credence-store-refuses-…).
    for (const args of [['--config', config, '--data', named], ['--data', named]]) {
      const refused = await exportWith(args, variables);
      expect([refused.code, refused.entries]).toEqual([2, undefined]);
      expect(refused.said).toContain(`env CREDENCE_STORE: the data folder ${named} holds its own event store`);
    }
  });
});
