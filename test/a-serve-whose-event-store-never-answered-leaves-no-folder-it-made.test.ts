/**
 * Review 173 (A): `CREDENCE_STORE=esdb://… credence serve --data D` with no EventStoreDB running exited 3, as it should,
 * but kept the folder it had just made (access.db, keys.db with the infrastructure's keys, the KEK, readmodels.db, the
 * transparency log): an external store was taken as holding events of the folder's keys before it had ever answered.
 * A later `serve --data D` on the embedded store was then refused as a folder served before. The folder is now kept
 * only once the store has answered; a start refused before that removes the folder it made, and leaves one that was
 * there.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { closedPort } from './support/closed-port.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-store-never-answered-');

const serveOn = async (data: string, store: string | undefined) => {
  const c = capture();
  const code = await main(['serve', '--data', data, '--port', '0'], {
    ...c.io,
    env: { PORT: '', ...(store !== undefined ? { CREDENCE_STORE: store } : {}) },
  });
  return { code, err: c.err.join('\n') };
};

describe('a serve whose external event store never answered', () => {
  it('exits 3 and leaves no folder where there was none', async () => {
    const data = join(scratch(), 'new', 'data');
    const refused = await serveOn(data, `esdb://127.0.0.1:${await closedPort()}?tls=false`);
    expect(refused.err).toMatch(/ECONNREFUSED/);
    expect(refused.code, refused.err).toBe(3);
    expect(existsSync(data)).toBe(false);
    // The folder made above it too.
    expect(existsSync(join(data, '..'))).toBe(false);
  }, 60_000);

  it('leaves a folder that was there, with what it held', async () => {
    const data = join(scratch(), 'data');
    mkdirSync(data, { mode: 0o700 });
    writeFileSync(join(data, 'kept.txt'), 'mine');
    const refused = await serveOn(data, `esdb://127.0.0.1:${await closedPort()}?tls=false`);
    expect(refused.code, refused.err).toBe(3);
    expect(readdirSync(data)).toContain('kept.txt');
  }, 60_000);
});
