import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { serviceConfig } from '../adapters/http/config.ts';
import type { PkiPublisherOptions } from '../adapters/http/pki-publisher.ts';
import { REFUSALS_LOGGED_PER_ADDRESS } from '../adapters/http/refusal-sampling.ts';
import { startService } from '../adapters/http/start.ts';
import { startPkiService } from './support/pki-test-ca.ts';
import { tempDirs } from './support/temp-dirs.ts';

/*
 * While the start has not finished, every request but /healthz and /readyz is answered 503
 * `starting` (server.ts, review 422), and each wrote its `request completed` line whole: a matched route's refusal is
 * not one of the sampled kinds (isSampledRefusal: a 429, an unmatched path), and no rate limit is looked at before it.
 * A stranger could write a line per request for as long as the start took. Now they are sampled as 429s are: the first
 * REFUSALS_LOGGED_PER_ADDRESS of an address whole, then one line counting the rest. The start is held at its PKI
 * publisher (vi.mock), as in service-serves-nothing-but-liveness-until-its-start-has-finished.test.ts: no timing.
 */

const held = vi.hoisted(() => ({ release: undefined as (() => void) | undefined, reached: undefined as ((url: string) => void) | undefined }));

vi.mock('../adapters/http/pki-publisher.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../adapters/http/pki-publisher.ts')>();
  return {
    ...actual,
    startPkiPublisher: async (options: PkiPublisherOptions) => {
      const reached = held.reached;
      if (reached !== undefined) {
        const released = new Promise<void>((resolve) => (held.release = resolve));
        reached(options.baseUrl);
        await released;
      }
      return actual.startPkiPublisher(options);
    },
  };
});

interface LogLine {
  readonly msg?: string;
  readonly req?: { readonly method?: string; readonly url?: string; readonly remoteAddress?: string };
  readonly res?: { readonly statusCode?: number };
  readonly remoteAddress?: string;
  readonly suppressed?: number;
}

const folders = tempDirs('credence-flood-while-starting-');

describe('a flood of requests on the API port while the start has not finished', () => {
  let dir: string;
  beforeAll(async () => {
    dir = folders.make();
    const first = await startPkiService('p256', { dir });
    await first.close();
  }, 60_000);
  afterAll(() => {
    held.reached = undefined;
    held.release?.();
    folders.cleanup();
  });

  it('logs the first refusals of an address whole, then one line saying how many it left out', async () => {
    const lines: string[] = [];
    const logStream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
        done();
      },
    });
    const atPublisher = new Promise<string>((resolve) => (held.reached = resolve));
    const config = serviceConfig({
      host: '127.0.0.1', port: 0, logLevel: 'info', tickMs: 200, durability: 'normal', data: dir, limits: { maxEventLoopDelayMs: 0, rateLimitWindowMs: 600_000 },
    });
    const started = startService(config, { logStream });
    started.catch(() => undefined);
    const url = await atPublisher;
    held.reached = undefined;

    const flood = 1_000;
    const statuses = new Map<number, number>();
    for (let i = 0; i < flood; i++) {
      // A matched route and a path no route matches, alike: each is `starting`.
      const res = await fetch(`${url}${i % 2 === 0 ? '/v1/projections' : `/no-such-route/${i}`}`);
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    expect(statuses).toEqual(new Map([[503, flood]]));

    held.release?.();
    const running = await started;
    await running.close();

    const written = lines.map((l) => JSON.parse(l) as LogLine);
    const refusals = written.filter((l) => l.res?.statusCode === 503);
    expect(refusals).toHaveLength(REFUSALS_LOGGED_PER_ADDRESS);
    // The first whole: method, URL, address and status.
    expect(refusals[0]).toMatchObject({ msg: 'request completed', req: { method: 'GET', url: '/v1/projections', remoteAddress: '127.0.0.1' }, res: { statusCode: 503 } });
    const counted = written.filter((l) => l.msg === 'refusals not logged');
    expect(counted).toEqual([expect.objectContaining({ remoteAddress: '127.0.0.1', suppressed: flood - REFUSALS_LOGGED_PER_ADDRESS })]);
    // Every line the flood wrote, all told: the whole ones and the count.
    expect(written.filter((l) => l.req !== undefined || l.msg === 'refusals not logged')).toHaveLength(REFUSALS_LOGGED_PER_ADDRESS + 1);
  }, 120_000);
});
