import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, startLive } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { body, settled } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Found in review 97: checkpoints deleted from transparency.db under a running service made the log key refuse every
 * signature after (TransparencyLogForked: "checkpoints were removed"), which only GET /v1/projections said; /readyz
 * answered 200 ready, and the log stayed unsigned. It is now 503 not_ready, check transparency_log_altered, until a
 * signature succeeds again.
 */
const dirs: string[] = [];
let svc: TestService | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const post = (s: TestService, id: string) =>
  fetch(`${s.url}/v1/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify(body.registerNode(id)),
  });

describe('/readyz while the log key refuses to sign', () => {
  it('is 503 transparency_log_altered once the checkpoints were removed under the running service, naming no position', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-readyz-altered-'));
    dirs.push(dir);
    svc = await startTestService({ dir });
    expect((await post(svc, 'meter-1')).status).toBe(201);
    await settled(svc);
    expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);

    const log = new Database(join(dir, 'transparency.db'));
    try {
      log.exec('DELETE FROM checkpoints');
    } finally {
      log.close();
    }
    expect((await post(svc, 'meter-2')).status).toBe(201);
    await settled(svc);
    const transparency = svc.service.context.credence.transparency!;
    await expect(transparency.checkpoint()).rejects.toThrow(/refusing to sign the transparency log: .*checkpoints were removed/);

    const ready = await fetch(`${svc.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBe('5');
    const problem = (await ready.json()) as Record<string, unknown>;
    expect(problem).toMatchObject({ type: 'https://credence.dev/problems/not_ready', check: 'transparency_log_altered' });
    expect(JSON.stringify(problem)).not.toMatch(/where this process saw|signs \d+ leaves|position/);
  }, 60_000);
});

describe('a quiet service whose checkpoints were removed under it', () => {
  it('refuses to sign at its next checkpoint period, with no new event to sign, and is ready again once they are back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-readyz-quiet-'));
    dirs.push(dir);
    const clock = new FakeClock(new Date('2026-12-04T10:00:00.000Z'));
    const credence = openCredence({ location: { dir }, clock });
    const failures: unknown[] = [];
    const live = startLive(credence, { tickMs: 20, checkpointEveryMs: 20, onError: (_component, error) => failures.push(error) });
    try {
      await live.start();
      await credence.engine.execute(command('registerNode', body.registerNode('meter-1').data, { actor: { id: 'op', role: 'operator' } }));
      await vi.waitFor(() => expect(credence.transparencyLog!.log.latestCheckpoint()?.treeSize).toBe(1), { timeout: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(credence.transparency!.refusesToSign).toBeUndefined();

      const db = new Database(join(dir, 'transparency.db'));
      const kept = db.prepare('SELECT * FROM checkpoints').all();
      try {
        db.exec('DELETE FROM checkpoints');
      } finally {
        db.close();
      }
      await vi.waitFor(() => expect(credence.transparency!.refusesToSign?.message).toMatch(/checkpoints were removed/), { timeout: 10_000 });
      expect(failures.some((e) => String(e).includes('checkpoints were removed'))).toBe(true);

      const back = new Database(join(dir, 'transparency.db'));
      try {
        const insert = back.prepare('INSERT INTO checkpoints (tree_size, root_hash, time, note) VALUES (@tree_size, @root_hash, @time, @note)');
        for (const row of kept as Record<string, unknown>[]) insert.run(row);
      } finally {
        back.close();
      }
      await vi.waitFor(() => expect(credence.transparency!.refusesToSign).toBeUndefined(), { timeout: 10_000 });
    } finally {
      await live.stop();
      await credence.close();
    }
  }, 60_000);

  /** A quiet service over 3 signed events, and a change made to its log file: refusesToSign once its check has run. */
  const refusalOfQuietServiceAfter = async (change: string): Promise<Error | undefined> => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-readyz-quiet-'));
    dirs.push(dir);
    const credence = openCredence({ location: { dir }, clock: new FakeClock(new Date('2026-12-04T10:00:00.000Z')) });
    const live = startLive(credence, { tickMs: 20, checkpointEveryMs: 20, onError: () => undefined });
    try {
      await live.start();
      for (const id of ['meter-1', 'meter-2', 'meter-3']) {
        await credence.engine.execute(command('registerNode', body.registerNode(id).data, { actor: { id: 'op', role: 'operator' } }));
      }
      await vi.waitFor(() => expect(credence.transparencyLog!.log.latestCheckpoint()?.treeSize).toBe(3), { timeout: 10_000 });
      const db = new Database(join(dir, 'transparency.db'));
      try {
        db.exec(change);
      } finally {
        db.close();
      }
      await vi.waitFor(() => expect(credence.transparency!.refusesToSign).toBeDefined(), { timeout: 10_000 });
      return credence.transparency!.refusesToSign;
    } finally {
      await live.stop();
      await credence.close();
    }
  };

  it('sees leaves and subtree hashes rewritten in the file, not only the copy of its edge the process keeps (review 108)', async () => {
    const refusal = await refusalOfQuietServiceAfter('UPDATE leaves SET leaf_hash = randomblob(32); UPDATE nodes SET hash = randomblob(32)');
    expect(refusal?.message).toMatch(/its first 3 leaves no longer hash to the checkpoint this key signed/);
  }, 60_000);

  it('is not ready over a checkpoint row that says what no log writes (review 108)', async () => {
    const refusal = await refusalOfQuietServiceAfter("UPDATE checkpoints SET root_hash = x'00'");
    expect(refusal?.name).toBe('TransparencyLogAltered');
  }, 60_000);
});
