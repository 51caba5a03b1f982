import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { main } from '../bin/cli.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { capture } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review: `credence export --out FILE` without --force checked that FILE was absent before it asked the
 * server, then renamed its bundle over whatever was there by the time the answer came. A file written in between
 * (an auditor's other export, say) is kept now, and the export is refused as one started against it would be.
 */

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

let server: Server;
let url: string;
let bundle = '';
let writeWhileAnswering: string | undefined;
beforeAll(async () => {
  server = createServer((_request, response) => {
    if (writeWhileAnswering !== undefined) writeFileSync(writeWhileAnswering, 'written meanwhile\n');
    response.writeHead(200, { 'content-type': 'application/json' }).end(bundle);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const exportFromServer = async (out: string, extra: string[] = []) => {
  const c = capture();
  const code = await main(['export', 'credential-meter-1', '--out', out, '--server', url, ...extra], { ...c.io, env: { CREDENCE_TOKEN: 'a.b.c' } });
  return { code, err: c.err.join('\n') };
};

it('keeps a file that appeared at --out while the export ran, unless --force', async () => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, 3);
  await store.close();
  const local = join(dir, 'local.json');
  expect(await exportCommand(['credential-meter-1', '--out', local, '--data', dir], capture().io)).toBe(0);
  bundle = readFileSync(local, 'utf8');

  const out = join(dir, 'raced.json');
  writeWhileAnswering = out;
  const refused = await exportFromServer(out);
  expect(refused.code).toBe(2);
  expect(refused.err).toContain(`--out: ${out} exists; give --force to replace it`);
  expect(readFileSync(out, 'utf8')).toBe('written meanwhile\n');

  const forcedOut = join(dir, 'forced.json');
  writeWhileAnswering = forcedOut;
  const forced = await exportFromServer(forcedOut, ['--force']);
  expect(forced.code).toBe(0);
  expect(readFileSync(forcedOut, 'utf8')).toBe(bundle);

  writeWhileAnswering = undefined;
  const fresh = join(dir, 'fresh.json');
  expect((await exportFromServer(fresh)).code).toBe(0);
  expect(readFileSync(fresh, 'utf8')).toBe(bundle);
  // The refused write left no temporary file behind.
  expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
});
