import Database from 'better-sqlite3';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { mapError } from '../adapters/http/problems.ts';
import { openCredence, startLive, type ComponentStatus } from '../adapters/runtime/index.ts';
import { toBase64url } from '../domain/crypto/index.ts';
import { seededRandom } from './crypto-fixtures.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 110: another process holding a write transaction on readmodels.db (an operator's sqlite3, a CLI) froze the
 * whole service, OCSP included: each live pass's first write waited out SQLite's 5 s busy_timeout on the event loop,
 * and every retry waited again. While the live runtime runs, a component's statement now waits at most 50 ms: its
 * pass fails, naming the file, and is retried with the back-off; the requests go on being served meanwhile.
 */
const folder = temporaryFolders('credence-locked-');

const errors = (status: readonly ComponentStatus[]): Record<string, string> =>
  Object.fromEntries(status.flatMap((c) => (c.error === undefined ? [] : [[c.name, c.error]])));

describe('a write lock another process holds on a live component file', () => {
  it('fails the pass at once naming the file, holds no event loop, and the component catches up once it is released', async () => {
    const dir = folder();
    const credence = openCredence({ location: { dir }, clock: new FakeClock(T0) });
    const live = startLive(credence, { tickMs: 50 });
    await live.start();
    try {
      await credence.engine.execute(cmd.createSubscription());
      expect(await live.caughtUp((await credence.store.headPosition())!, 10_000)).toBe(true);
      const audited = credence.readModels.prepare("SELECT COUNT(*) FROM audit_events WHERE stream_id = 'node-meter-1'").pluck();

      // Given another connection holding the write lock of each file the live components write
      const holders = ['readmodels.db', 'transparency.db'].map((file) => {
        const db = new Database(join(dir, file));
        db.exec('BEGIN IMMEDIATE');
        return db;
      });
      const stalls = monitorEventLoopDelay({ resolution: 10 });
      stalls.enable();
      let head: bigint;
      try {
        // When an event reaches them
        await credence.engine.execute(cmd.registerNode('meter-1'));
        head = (await credence.store.headPosition())!;

        // Then each component's pass fails naming its file and what happens next, not SQLite's bare "database is locked"
        await expect
          .poll(async () => errors(await live.status()), { timeout: 20_000, interval: 50 })
          .toMatchObject({
            audit: expect.stringMatching(/^readmodels\.db is locked by another process's write transaction \(SQLITE_BUSY\): the component tries again, backing off, and catches up once the lock is released$/),
            transparency: expect.stringMatching(/^transparency\.db is locked by another process's write transaction/),
          });
        // And the event loop was never held for the lock: before, each attempt held it for the 5 s of busy_timeout
        stalls.disable();
        expect(stalls.max / 1e6).toBeLessThan(2_000);
        // And nothing of the event was written meanwhile
        expect(Number(audited.get())).toBe(0);
      } finally {
        for (const db of holders) {
          db.exec('ROLLBACK');
          db.close();
        }
      }

      // When the lock is released, every component catches up, and no error is left
      expect(await live.caughtUp(head, 45_000)).toBe(true);
      expect(Number(audited.get())).toBe(1);
      expect(errors(await live.status())).toEqual({});
      expect(credence.transparencyLog?.log.size()).toBe(2);
    } finally {
      await live.stop();
      await credence.close();
    }
  });

  it('puts back the waits a CLI has once the live runtime stops', async () => {
    const dir = folder();
    const credence = openCredence({ location: { dir }, clock: new FakeClock(T0) });
    const waitOf = (): number => Number(credence.readModels.pragma('busy_timeout', { simple: true }));
    const before = waitOf();
    const live = startLive(credence, { tickMs: 50 });
    await live.start();
    expect(waitOf()).toBe(50);
    await live.stop();
    expect(waitOf()).toBe(before);
    expect(before).toBe(5_000);
    await credence.close();
  });

  it("is logged by the service at warn, naming the file, without a stack: no fault of the service's", async () => {
    const svc = await startTestService();
    try {
      const holder = new Database(join(svc.dir, 'readmodels.db'));
      holder.exec('BEGIN IMMEDIATE');
      const logged = svc.logs().length;
      try {
        await svc.service.context.credence.engine.execute(cmd.createSubscription());
        const lines = (): Record<string, unknown>[] => svc.logs().slice(logged).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['component'] !== undefined);
        await expect.poll(() => lines().length, { timeout: 20_000 }).toBeGreaterThan(0);
        for (const line of lines()) {
          expect(line).toMatchObject({ level: 40, file: 'readmodels.db', msg: expect.stringMatching(/^readmodels\.db is locked by another process's write transaction/) });
          expect(JSON.stringify(line)).not.toMatch(/"stack"|"err"/);
        }
      } finally {
        holder.exec('ROLLBACK');
        holder.close();
      }
    } finally {
      await svc.close();
    }
  });

  it('names keys.db, which the key shredder writes and which keeps the 5 s wait (review 114, 117), and a request meeting it is 503', async () => {
    const dir = folder();
    const clock = new FakeClock(T0);
    const random = seededRandom('locked-keys-db');
    const se = EmbeddedSecureEnvironment.open({ database: join(dir, 'se.sqlite'), kek: { source: 'inline', key: toBase64url(new Uint8Array(32).fill(9)) } }, { now: () => clock.now(), random });
    const credence = openCredence({ location: { dir }, clock, security: { se, random, actor: operator } });
    // A key the shredder owes, so that each tick tries it again and writes keys.db.
    credence.keyRegistry!.register('credential-x', 'key_missing', 'psk');
    (credence.keyRegistry as unknown as { destroyFailed(stream: string, handle: string, at: Date): void }).destroyFailed('credential-x', 'key_missing', new Date(Date.parse(T0) - 3_600_000));
    const live = startLive(credence, { tickMs: 50 });
    await live.start();
    const holder = new Database(join(dir, 'keys.db'));
    holder.exec('BEGIN IMMEDIATE');
    try {
      clock.advance(7_200_000);
      // Its status named readmodels.db, which was free
      await expect.poll(async () => errors(await live.status())['key-shredder'], { timeout: 30_000, interval: 100 }).toMatch(/^keys\.db is locked by another process's write transaction/);
      // A request that writes it is answered 503 with Retry-After, naming the file (not its path), and not claiming that
      // nothing of the request was done
      const refused = (() => {
        try {
          credence.keyRegistry!.register('credential-y', 'key_other', 'psk');
          return undefined;
        } catch (error) {
          return error;
        }
      })();
      expect(mapError(refused)).toMatchObject({ status: 503, code: 'file_locked', extensions: { file: 'keys.db' }, headers: { 'retry-after': '1' } });
      expect(mapError(refused).detail).not.toContain(dir);
      expect(mapError(refused).detail).not.toContain('nothing was written');
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
      await live.stop();
      await credence.close();
      se.close();
    }
  });
});
