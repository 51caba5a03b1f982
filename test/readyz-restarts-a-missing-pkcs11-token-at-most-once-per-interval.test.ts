/**
 * Review 269 finding 1: while the service's token was away, every GET /readyz (unauthenticated) ran a whole recovery,
 * C_Finalize and C_Initialize of the module, synchronously: with a network HSM whose C_Initialize takes seconds,
 * anyone who could reach /readyz stalled every request. Now readiness restarts the module at most once per wait
 * (none after the first failure, then 5 s doubling to 60 s while it keeps failing), answering the last
 * `token_unavailable` in between; once the token is back, the next restart the wait allows finds it. The module's
 * C_Initialize calls are counted; the clock is performance.now, stopped and moved forward by the test.
 */
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { serviceConfig } from '../adapters/http/config.ts';
import { startService } from '../adapters/http/start.ts';
import { READINESS_RESTART_WAIT_MS } from '../adapters/driven/secure-environment/pkcs11/token-session.ts';
import { softHsm, softHsmMissing, withSoftHsmModule } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-readyz-restarts-');

describe.skipIf(softHsmMissing !== undefined)('GET /readyz while the service\'s PKCS#11 token is away', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  afterEach(() => {
    vi.restoreAllMocks();
  });
  const token = hsm.token('readyz');

  it('restarts the module at most once per wait, backing off, answers token_unavailable in between, and is ready at the next allowed restart once it is back', async () => {
    // Stopped, moved only by the test: a loaded machine's own time must not end a wait the test counts on.
    const start = performance.now();
    let skipped = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => start + skipped);
    const data = join(scratch(), 'data');
    const service = await startService(serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'silent', durability: 'normal', data, secureEnvironment: token.uri() }));
    try {
      await withSoftHsmModule(async (module) => {
        const restarts = vi.spyOn(module, 'C_Initialize');
        const readyz = async () => {
          const answer = await fetch(`${service.url}/readyz`);
          const text = await answer.text();
          expect(text).not.toContain(token.pin);
          return { status: answer.status, body: JSON.parse(text) as Record<string, unknown> };
        };
        const unready = async (times: number) => {
          for (let i = 0; i < times; i++) {
            const answer = await readyz();
            expect(answer.status).toBe(503);
            expect(answer.body).toMatchObject({ check: 'secure_environment', reason: 'token_unavailable' });
          }
        };
        expect((await readyz()).status).toBe(200);
        expect(restarts).toHaveBeenCalledTimes(0);

        const removed = hsm.deleteToken(token);
        // The first failure is retried at once (a token back by the next probe is found then); after the second, held.
        await unready(40);
        expect(restarts).toHaveBeenCalledTimes(2);

        // 5 s after the second failure: one more, then held 10 s.
        skipped += READINESS_RESTART_WAIT_MS.first - 100;
        await unready(5);
        expect(restarts).toHaveBeenCalledTimes(2);
        skipped += 100;
        await unready(5);
        expect(restarts).toHaveBeenCalledTimes(3);
        skipped += 2 * READINESS_RESTART_WAIT_MS.first - 100;
        await unready(5);
        expect(restarts).toHaveBeenCalledTimes(3);
        skipped += 100;
        await unready(5);
        expect(restarts).toHaveBeenCalledTimes(4);

        // Doubling up to 60 s, never more: 20, 40, 60, 60.
        for (const wait of [20_000, 40_000, 60_000, 60_000]) {
          skipped += wait - 100;
          await unready(3);
          skipped += 100;
          const before = restarts.mock.calls.length;
          await unready(3);
          expect(restarts.mock.calls.length).toBe(before + 1);
        }

        // Back: still held until the wait ends (nothing called on the module meanwhile), then found by that restart.
        removed.restore();
        const held = restarts.mock.calls.length;
        await unready(3);
        expect(restarts.mock.calls.length).toBe(held);
        skipped += READINESS_RESTART_WAIT_MS.most;
        expect((await readyz()).status).toBe(200);
        expect(restarts.mock.calls.length).toBe(held + 1);
        // Ready, and the wait forgotten: nothing more is restarted while it serves.
        for (let i = 0; i < 10; i++) expect((await readyz()).status).toBe(200);
        expect(restarts.mock.calls.length).toBe(held + 1);
      });
    } finally {
      await service.close();
    }
  });
});
