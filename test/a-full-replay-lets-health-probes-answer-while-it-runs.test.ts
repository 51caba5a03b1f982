import { describe, expect, it } from 'vitest';
import { seed } from '../bench/engine.ts';
import { startTestService } from './support/service.ts';

/*
 * Review 242 (F1): on the embedded store the fleet replay read every page in one go, with only a microtask between
 * pages, so the event loop never turned: /healthz, /readyz and every other request waited for the whole replay (on
 * 60,000 events a /healthz sent 30 ms in was answered after ~1.6 s; a liveness probe may restart the service over
 * it). The replay now gives the loop a turn after each of the store's pages. Asserted on the order of the answers,
 * never on how long either took: the probe, sent once the replay read its first page, is answered before the replay.
 */
describe('a full fleet replay in the service', () => {
  it('lets /healthz answer while it runs', async () => {
    const svc = await startTestService();
    try {
      const { store } = svc.service.context.credence;
      // Enough pages of the store (1,000 records each) that the probe's round trip fits in the replay's turns of the
      // loop with the fix: measured, the probe was answered after the 4th page of some 26 (what it proves is the order).
      const written = await seed(store, 15_000);
      const head = await store.headPosition();
      expect(await svc.service.context.live.caughtUp(head!, 120_000)).toBe(true);

      // Told when the replay has read its first page of the store, so the probe is sent while the replay runs.
      const pages = store.readAllPagesSync!.bind(store);
      let firstPage: () => void = () => undefined;
      const replaying = new Promise<void>((resolve) => (firstPage = resolve));
      store.readAllPagesSync = (options) => {
        const inner = pages(options);
        return {
          *[Symbol.iterator]() {
            for (const page of inner) {
              yield page;
              firstPage();
            }
          },
        };
      };

      const answered: string[] = [];
      const replay = fetch(`${svc.url}/v1/replay?full=true&limit=0`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } }).then(async (r) => {
        answered.push('replay');
        return { status: r.status, body: (await r.json()) as { mode: string; events: number; ok: boolean } };
      });
      await replaying;
      const probe = fetch(`${svc.url}/healthz`).then((r) => {
        answered.push('healthz');
        return r.status;
      });

      expect(await probe).toBe(200);
      const verdict = await replay;
      expect(verdict).toMatchObject({ status: 200, body: { mode: 'full', ok: true } });
      expect(verdict.body.events).toBeGreaterThanOrEqual(written);
      expect(answered).toEqual(['healthz', 'replay']);
    } finally {
      await svc.close();
    }
  }, 300_000);
});
