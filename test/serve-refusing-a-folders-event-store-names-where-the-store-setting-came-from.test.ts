import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { runCli } from './support/cli.ts';
import { folderSnapshot, servedFolderWith } from './support/served-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review (CLI/start items, f902 #1): `credence serve` knows where its store came from (flag --store, env CREDENCE_STORE,
 * file F: store) and named it when the store's folder was locked, but the refusals of a served folder's missing or
 * empty event store were handed the literal 'store': they named `store`, or "the store setting (--store, env
 * CREDENCE_STORE or the configuration file's store)", never the one setting to change.
 */
const scratch = temporaryFolders('credence-serve-store-setting-named-');

let empty: StandIn;
beforeAll(async () => {
  empty = await startStandIn();
});
afterAll(async () => {
  await empty.stop();
});

const serve = (args: string[], env: Record<string, string> = {}) =>
  runCli(['serve', '--port', '0', '--log-level', 'silent', ...args], env);

describe('credence serve refusing the event store of a folder served on its embedded store', () => {
  it('a sqlite: store without events.db: the refusal names the flag, the variable or the file that set it', async () => {
    const data = scratch();
    await servedFolderWith(data, ['meter-1']);
    const other = scratch();
    const config = join(scratch(), 'credence.json');
    writeFileSync(config, JSON.stringify({ store: `sqlite:${other}` }), { mode: 0o600 });
    const before = folderSnapshot(data);

    for (const [args, env, setting] of [
      [['--data', data, '--store', `sqlite:${other}`], {}, 'flag --store'],
      [['--data', data], { CREDENCE_STORE: `sqlite:${other}` }, 'env CREDENCE_STORE'],
      [['--data', data, '--config', config], {}, `file ${config}: store`],
    ] as const) {
      const refused = await serve([...args], env);
      expect(refused.code, refused.err).not.toBe(0);
      expect(refused.err, setting).toContain(`${setting}: ${join(other, 'events.db')} is missing, but ${data} was built from a log of events`);
      expect(refused.err, setting).not.toContain(`data folder: store: `);
      expect(folderSnapshot(data), setting).toEqual(before);
    }
  }, 120_000);

  it('an EventStoreDB that holds none of its log: the refusal and its remedy name env CREDENCE_STORE', async () => {
    const data = scratch();
    await servedFolderWith(data, ['meter-2']);
    const before = folderSnapshot(data);

    const refused = await serve(['--data', data], { CREDENCE_STORE: empty.connectionString });

    expect(refused.code, refused.err).not.toBe(0);
    expect(refused.err).toContain('env CREDENCE_STORE: names an event store that holds');
    expect(refused.err).toContain('unset env CREDENCE_STORE to keep serving it there');
    expect(refused.err).not.toContain('the store setting (--store, env CREDENCE_STORE or the configuration file');
    expect(refused.err).not.toContain(empty.connectionString);
    expect(folderSnapshot(data)).toEqual(before);
  }, 120_000);
});
