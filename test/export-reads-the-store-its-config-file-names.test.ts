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

const exportWith = async (args: string[]) => {
  const out = join(dirs.make(), 'bundle.json');
  const c = capture();
  const code = await main(['export', STREAM, '--out', out, ...args], { ...c.io, env: {} });
  const said = [...c.out, ...c.err].join('\n');
  return { code, out, said, entries: existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as { entries: unknown[] }).entries.length : undefined };
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
    const standIn = await startStandIn();
    try {
      const store = openStore(standIn.connectionString);
      await appendEvents(store, 6);
      await store.close();
      const withPassword = standIn.connectionString.replace('esdb://', 'esdb://admin:s3cret-pw@');
      // Readable by others, as the service would be warned of it: the warning names the file, not the string.
      const config = configFile({ data: dirs.make(), store: withPassword }, 0o644);
      const exported = await exportWith(['--config', config]);
      expect([exported.code, exported.entries]).toEqual([0, 2]);
      expect(exported.said).toContain(`file ${config}: store: the connection string carries a password and the file is readable by group or others`);
      expect(exported.said).not.toContain('s3cret-pw');
      expect(readFileSync(exported.out, 'utf8')).not.toContain('s3cret-pw');
    } finally {
      await standIn.stop();
    }
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
