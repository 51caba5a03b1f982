import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { serviceConfig } from '../adapters/http/config.ts';
import type { PkiPublisherOptions } from '../adapters/http/pki-publisher.ts';
import { startService, type RunningService } from '../adapters/http/start.ts';
import { startPkiService } from './support/pki-test-ca.ts';
import { tempDirs } from './support/temp-dirs.ts';

/*
 * Review 422, finding 1: the API's port listens before the start has finished (it binds, checks the address bound,
 * then starts the PKI publisher, which can still fail: review 231's damaged CRL number file). Meanwhile its /readyz said
 * ready and its routes served, while the probe port said `catch_up` "serves no API yet"; a start that then failed had
 * told its load balancer it was ready and answered API calls. Now nothing but /healthz is served there until the start
 * has finished: /readyz is 503 `starting`, every other route 503 `starting` with Retry-After, and the probe port says
 * `starting`. The publisher's start is held here (vi.mock) for as long as the test asks: no timing.
 */

interface Hold {
  /** The API's URL, as the start gave it to the publisher (the port bound). */
  reached: (baseUrl: string) => void;
  /** What the held start does once released: go on, or fail as a damaged CRL number file fails it. */
  released: Promise<Error | undefined>;
}
const held = vi.hoisted(() => ({ hold: undefined as Hold | undefined }));

vi.mock('../adapters/http/pki-publisher.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../adapters/http/pki-publisher.ts')>();
  return {
    ...actual,
    startPkiPublisher: async (options: PkiPublisherOptions) => {
      const hold = held.hold;
      if (hold !== undefined) {
        hold.reached(options.baseUrl);
        const failure = await hold.released;
        if (failure !== undefined) throw failure;
      }
      return actual.startPkiPublisher(options);
    },
  };
});

/** A start held at its PKI publisher: where the API and the probes listen, and how to let it go on. */
const heldStart = (dir: string) => {
  let reached!: (baseUrl: string) => void;
  const atPublisher = new Promise<string>((resolve) => (reached = resolve));
  let release!: (failure: Error | undefined) => void;
  const released = new Promise<Error | undefined>((resolve) => (release = resolve));
  held.hold = { reached, released };
  const lines: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
      done();
    },
  });
  const config = serviceConfig({
    host: '127.0.0.1', port: 0, probePort: 0, logLevel: 'info', tickMs: 200, durability: 'normal', data: dir, limits: { maxEventLoopDelayMs: 0 },
  });
  const started = startService(config, { logStream });
  // Settled by the test; a rejection is read there.
  started.catch(() => undefined);
  // A start refused before its publisher (a lock still held) says so here rather than never reaching it.
  const reachedOrRefused = Promise.race([atPublisher, started.then(() => Promise.reject(new Error('started without its publisher held')))]);
  const urls = reachedOrRefused.then((url) => {
    const probes = lines.map((l) => JSON.parse(l) as { msg?: string; probeUrl?: string }).find((l) => l.msg?.startsWith('probes listening'));
    if (probes?.probeUrl === undefined) throw new Error('the probe port did not say where it listens');
    return { url, probeUrl: probes.probeUrl };
  });
  const handle = { started, urls, release };
  last = handle;
  return handle;
};
/** The latest held start, let go (failing) after each test: an assertion failed while held leaves none holding the folder. */
let last: { started: Promise<RunningService>; release: (failure: Error | undefined) => void } | undefined;

const folders = tempDirs('credence-serving-after-start-');

describe('the API port while the start has not finished', () => {
  let dir: string;
  let tokens: { operator: string; admin: string };
  let running: RunningService | undefined;
  beforeAll(async () => {
    // A data folder with a root CA, and tokens issued in it by a first start (they verify across restarts).
    dir = folders.make();
    held.hold = undefined;
    const first = await startPkiService('p256', { dir });
    tokens = { operator: first.tokens.operator, admin: first.tokens.admin };
    await first.close();
  }, 60_000);
  afterEach(async () => {
    last?.release(new Error('the test ended'));
    await last?.started.then((service) => service.close()).catch(() => undefined);
    last = undefined;
  });
  afterAll(async () => {
    held.hold = undefined;
    await running?.close();
    folders.cleanup();
  });

  const command = (url: string) =>
    fetch(`${url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'createSubscription',
        data: { subscriptionId: `sub-${randomUUID().slice(0, 8)}`, subscriber: 'City Utilities', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2099-01-01T00:00:00.000Z' },
        commandId: randomUUID(),
      }),
    });
  const read = (url: string) => fetch(`${url}/v1/projections`, { headers: { authorization: `Bearer ${tokens.admin}` } });

  it('answers /readyz and every API route 503 `starting` until then, /healthz 200, and serves once started', async () => {
    const start = heldStart(dir);
    const { url, probeUrl } = await start.urls;

    const readyz = await fetch(`${url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toMatchObject({ type: 'https://credence.dev/problems/not_ready', check: 'starting' });
    expect(readyz.headers.get('retry-after')).not.toBeNull();
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    for (const answer of [await command(url), await read(url), await fetch(`${url}/pki/default/crl`)]) {
      expect(answer.status).toBe(503);
      expect(answer.headers.get('content-type')).toContain('application/problem+json');
      expect(answer.headers.get('retry-after')).not.toBeNull();
      expect(await answer.json()).toMatchObject({ type: 'https://credence.dev/problems/starting' });
    }

    // The probe port says so too: caught up, the API port answers, but only `starting`.
    const probe = await fetch(`${probeUrl}/readyz`);
    expect(probe.status).toBe(503);
    const said = (await probe.json()) as { check: string; detail: string };
    expect(said.check).toBe('starting');
    expect(said.detail).not.toContain('serves no API');

    start.release(undefined);
    running = await start.started;
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready' });
    expect((await fetch(`${probeUrl}/readyz`)).status).toBe(200);
    expect((await read(url)).status).toBe(200);
    expect((await command(url)).status).toBe(201);
    await running.close();
    running = undefined;
  }, 60_000);

  it('answered no API request 2xx when the start then fails', async () => {
    const start = heldStart(dir);
    const { url, probeUrl } = await start.urls;
    const statuses = await Promise.all([fetch(`${url}/readyz`), command(url), read(url), fetch(`${url}/pki/default/ca.crt`), fetch(`${probeUrl}/readyz`)].map(async (r) => (await r).status));
    expect(statuses).toEqual([503, 503, 503, 503, 503]);

    start.release(new Error('CRL number file damaged'));
    await expect(start.started).rejects.toThrow('CRL number file damaged');
    // Nothing listens any more: the load balancer was never told it was ready.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  }, 60_000);
});
