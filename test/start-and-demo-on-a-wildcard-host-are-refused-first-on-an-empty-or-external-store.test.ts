/**
 * Found in the review of review 49's fix: `credence demo --host 0.0.0.0` (or start) without a public URL was refused before anything was made only
 * on a folder with no store yet or with an issuing CA. On a store that exists but is empty, and on an external store
 * (EventStoreDB, CREDENCE_STORE), the demo CA, the keys, access.db, the transparency files and the rest were made
 * first: whether the demo would make a CA was known only once the store was opened. The store is now read for that
 * before the service opens it, and the refusal comes first in every case. (A fresh folder and one with a CA:
 * test/start-and-demo-on-a-wildcard-host-are-refused-before-anything-is-made.test.ts.)
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../adapters/client/http.ts';
import type { ServiceConfigInput } from '../adapters/http/config.ts';
import { main } from '../bin/cli.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { capture } from './support/cli.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-wildcard-store-first-');

/** Every file under `dir` by its path, with its size, modification time and SHA-256; every folder as `folder`. */
const snapshot = (dir: string, into: Record<string, string> = {}, prefix = ''): Record<string, string> => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const name = `${prefix}${entry.name}`;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      into[name] = 'folder';
      snapshot(path, into, `${name}/`);
    } else {
      const { size, mtimeMs } = statSync(path);
      into[name] = `${size} ${mtimeMs} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
    }
  }
  return into;
};

/** `credence <args>` in this process with `env` as its whole environment. */
const credence = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const run = capture();
  const code = await main(args, { ...run.io, env });
  return { code, out: run.out.join('\n'), err: run.err.join('\n') };
};

/** A data folder with no issuing CA whose store holds one event (a node registered), on `config`'s store. */
const folderWithAnEvent = async (data: string, config: ServiceConfigInput = {}): Promise<void> => {
  const svc = await startTestService({ dir: data, config });
  try {
    const body = { type: 'registerNode', data: { nodeId: 'meter-1', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] } } };
    expect((await request(svc.url, { path: '/v1/commands', token: svc.tokens.operator, body })).status).toBe(201);
  } finally {
    await svc.close();
  }
};

/** No demo runs on a store that holds events, so no CA is made: the wildcard host is served as before. */
const expectServedWithoutCa = (ran: { code: number; out: string; err: string }, data: string): void => {
  expect(ran.out).toContain('already holds events');
  expect(ran.code, ran.err).toBe(0);
  expect(existsSync(join(data, 'pki'))).toBe(false);
};

const WILDCARD_REFUSAL = /^error: flag --host: publicUrl must be set when the service listens on the wildcard address 0\.0\.0\.0 /m;

describe('credence demo and start on a wildcard host without a public URL', () => {
  it('are refused on an existing empty store before the demo CA or any file is made, the folder unchanged', async () => {
    const data = join(scratch(), 'data');
    await (await startTestService({ dir: data })).close();
    const before = snapshot(data);
    expect(before['events.db']).toBeDefined();
    for (const command of ['demo', 'start']) {
      const refused = await credence([command, '--data', data, '--host', '0.0.0.0', '--port', '0']);
      expect(refused.err).toMatch(WILDCARD_REFUSAL);
      expect(refused.out).not.toContain('issuing CA');
      expect(refused.code).toBe(2);
      expect(snapshot(data)).toEqual(before);
    }
  }, 60_000);

  it('are not refused on a store that holds events, where no demo makes a CA', async () => {
    const data = join(scratch(), 'data');
    await folderWithAnEvent(data);
    expectServedWithoutCa(await credence(['demo', '--data', data, '--host', '0.0.0.0', '--port', '0']), data);
  }, 60_000);

  describe('with an external event store', () => {
    let standIn: StandIn;
    beforeAll(async () => {
      standIn = await startStandIn();
    });
    afterAll(() => standIn.stop());

    it('are refused on an empty store before the data folder or any event is made', async () => {
      const data = join(scratch(), 'data');
      const logged = standIn.log.all.length;
      for (const command of ['demo', 'start']) {
        const refused = await credence([command, '--data', data, '--host', '0.0.0.0', '--port', '0'], { CREDENCE_STORE: standIn.connectionString });
        expect(refused.err).toMatch(WILDCARD_REFUSAL);
        expect(refused.out).not.toContain('issuing CA');
        expect(refused.code).toBe(2);
        expect(existsSync(data)).toBe(false);
        expect(standIn.log.all.length).toBe(logged);
      }
    }, 60_000);

    it('are not refused once the store holds events, where no demo makes a CA', async () => {
      const data = join(scratch(), 'data');
      await folderWithAnEvent(data, { store: standIn.connectionString });
      expectServedWithoutCa(await credence(['demo', '--data', data, '--host', '0.0.0.0', '--port', '0'], { CREDENCE_STORE: standIn.connectionString }), data);
    }, 60_000);
  });
});

describe('credence demo and start on a host whose default URL certificates cannot carry', () => {
  // The other refusal of the service that hangs on its issuing CAs: it too came only once the demo CA was made.
  it('are refused before the demo CA or the data folder is made', async () => {
    const data = join(scratch(), 'data');
    for (const command of ['demo', 'start']) {
      const refused = await credence([command, '--data', data, '--host', 'LOCALHOST', '--port', '0']);
      expect(refused.err).toContain('publicUrl: the default http://<host>:<port> cannot be named in certificates');
      expect(refused.out).not.toContain('issuing CA');
      expect(refused.code).toBe(1);
      expect(existsSync(data)).toBe(false);
    }
  }, 60_000);
});
