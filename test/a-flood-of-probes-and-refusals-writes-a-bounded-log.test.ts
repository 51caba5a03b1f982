import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { FastifyBaseLogger } from 'fastify';
import { MAX_ADDRESSES_SAMPLED, MAX_REFUSALS_LOGGED_PER_WINDOW, REFUSALS_LOGGED_PER_ADDRESS, refusalSampler } from '../adapters/http/refusal-sampling.ts';
import { MAX_PATH_PARAM_CHARS } from '../adapters/http/path-params.ts';
import { MAX_LOGGED_URL_CHARS } from '../adapters/http/logging.ts';
import { startTestService } from './support/service.ts';

/*
 * Review 381 item 1: every request on the API port wrote two lines (`incoming request`, `request completed`), a
 * /healthz, a 429 and a 404 included, with its URL whole: 2,000 /healthz without a token wrote 4,000 lines (1.28 MB),
 * 200 requests on a 14,007-byte unmatched path 400 lines (2.93 MB), and once stdout fell 8 MiB behind, genuine lines
 * were dropped: a stranger could blind the log. Now a request writes one line as it completes; a probe answered writes
 * none; past the first few 429s and unmatched 404s of an address in a window, one line says how many were not logged;
 * the URL a line keeps is cut.
 */

interface LogLine {
  readonly msg?: string;
  readonly reqId?: string;
  readonly req?: { readonly method?: string; readonly url?: string; readonly remoteAddress?: string; readonly headers?: Record<string, string> };
  readonly res?: { readonly statusCode?: number };
  readonly remoteAddress?: string;
  readonly suppressed?: number;
}

const parsed = (lines: readonly string[]): LogLine[] => lines.map((l) => JSON.parse(l) as LogLine);
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 200));

describe('a flood of probes and refusals on the API port', () => {
  it('writes no line for a probe answered, and one line for a request, with what the first line carried', async () => {
    const svc = await startTestService({ config: { limits: { rateLimitPerAddress: 5 } } });
    try {
      const before = svc.logs().length;
      for (let i = 0; i < 300; i++) await (await fetch(`${svc.url}/healthz`)).arrayBuffer();
      // /readyz counts against the rate limit of 5: a 429 is a refusal, logged.
      for (let i = 0; i < 3; i++) await (await fetch(`${svc.url}/readyz`)).arrayBuffer();
      await settle();
      const written = parsed(svc.logs().slice(before));
      expect(written.filter((l) => l.reqId !== undefined || l.req !== undefined)).toEqual([]);

      const res = await fetch(`${svc.url}/v1/entities`, { headers: { 'user-agent': 'flood-test/1' } });
      await res.arrayBuffer();
      await settle();
      const ours = parsed(svc.logs()).filter((l) => l.reqId === res.headers.get('x-request-id'));
      expect(ours.map((l) => l.msg)).toEqual(['request completed']);
      expect(ours[0]).toMatchObject({
        req: { method: 'GET', url: '/v1/entities', remoteAddress: '127.0.0.1', headers: { 'user-agent': 'flood-test/1' } },
        res: { statusCode: 401 },
      });
      expect(svc.logs().some((l) => l.includes('incoming request'))).toBe(false);
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('writes one line for a request its client gave up before any answer', async () => {
    const svc = await startTestService();
    try {
      const { port } = new URL(svc.url);
      // A body promised and never sent whole: the client closes while the service still waits for it.
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.write(`POST /v1/commands HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${svc.tokens.operator}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"type"`);
          setTimeout(() => socket.destroy(), 200);
        });
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
      await expect
        .poll(() => parsed(svc.logs()).filter((l) => l.msg === 'request aborted'), { timeout: 5_000 })
        .toEqual([expect.objectContaining({ req: expect.objectContaining({ method: 'POST', url: '/v1/commands' }) })]);
    } finally {
      await svc.close();
    }
  }, 30_000);

  // Review 389: the shared budget of refusal lines hid a matched request's only line (an event stream's, a command's
  // whose body stopped): a route's abort is bounded by its rate limit, and logged whole.
  it("logs a route's aborted request whole after strangers spent the window's budget of refusal lines", async () => {
    const svc = await startTestService({ config: { trustProxy: ['127.0.0.1'], limits: { rateLimitWindowMs: 60_000 } } });
    try {
      for (let address = 0; address < 11; address++) {
        for (let i = 0; i < 20; i++) await (await fetch(`${svc.url}/no-such-route`, { headers: { 'x-forwarded-for': `198.51.100.${address + 1}` } })).arrayBuffer();
      }
      const { port } = new URL(svc.url);
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.write(`POST /v1/commands HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 203.0.113.9\r\nAuthorization: Bearer ${svc.tokens.operator}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"type"`);
          setTimeout(() => socket.destroy(), 200);
        });
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
      await expect
        .poll(() => parsed(svc.logs()).filter((l) => l.msg === 'request aborted').map((l) => l.req?.url), { timeout: 5_000 })
        .toEqual(['/v1/commands']);
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('writes at most N lines of 429s and unmatched 404s per address in a window, then one saying how many it left out', async () => {
    const svc = await startTestService({ config: { limits: { rateLimitPerAddress: 5, rateLimitWindowMs: 60_000 } } });
    const longPath = `/no-such-route/${'a'.repeat(2_000)}/${'b'.repeat(2_000)}/${'c'.repeat(2_000)}/${'d'.repeat(2_000)}`;
    const flood = 200;
    let before = 0;
    try {
      before = svc.logs().length;
      const statuses: number[] = [];
      for (let i = 0; i < flood; i++) {
        const res = await fetch(`${svc.url}${longPath}`);
        await res.arrayBuffer();
        statuses.push(res.status);
      }
      expect(statuses.filter((s) => s === 404)).toHaveLength(5);
      expect(statuses.filter((s) => s === 429)).toHaveLength(flood - 5);
      await settle();
      const written = parsed(svc.logs().slice(before));
      const requestLines = written.filter((l) => l.req !== undefined);
      expect(requestLines).toHaveLength(REFUSALS_LOGGED_PER_ADDRESS);
      // The URL a line keeps is cut, and says by how much.
      for (const line of requestLines) {
        expect(line.req!.url!.length).toBeLessThan(MAX_LOGGED_URL_CHARS + 40);
        expect(line.req!.url).toMatch(/…\(\+\d+ characters\)$/);
      }
      expect(svc.logs().slice(before).join('\n').length).toBeLessThan(REFUSALS_LOGGED_PER_ADDRESS * 2_000);
    } finally {
      await svc.close();
    }
    // The window's count is said at the latest as the service closes.
    const suppressed = parsed(svc.logs().slice(before)).filter((l) => l.msg === 'refusals not logged');
    expect(suppressed).toHaveLength(1);
    expect(suppressed[0]).toMatchObject({ remoteAddress: '127.0.0.1', suppressed: flood - REFUSALS_LOGGED_PER_ADDRESS });
  }, 120_000);

  it('says the count of a window once it has passed, and logs the first refusals of the next', async () => {
    // A window long enough that the flood's requests fall in one on a loaded machine (at 1 s they spanned two).
    const svc = await startTestService({ config: { limits: { rateLimitPerAddress: 2, rateLimitWindowMs: 5_000 } } });
    try {
      const before = svc.logs().length;
      for (let i = 0; i < REFUSALS_LOGGED_PER_ADDRESS + 10; i++) await (await fetch(`${svc.url}/no-such-route`)).arrayBuffer();
      await new Promise((r) => setTimeout(r, 5_500));
      const said = parsed(svc.logs().slice(before)).filter((l) => l.msg === 'refusals not logged');
      expect(said).toHaveLength(1);
      expect(said[0]!.suppressed).toBe(10);
      const next = await fetch(`${svc.url}/no-such-route`);
      await next.arrayBuffer();
      await settle();
      expect(parsed(svc.logs()).some((l) => l.reqId === next.headers.get('x-request-id'))).toBe(true);
    } finally {
      await svc.close();
    }
  }, 60_000);

  // Review 382 #1: a refusal the router answers through frameworkErrors (a 414 for an overlong path parameter, a 400 for
  // a malformed escape) had Fastify call incomingRequest only, never requestCompleted: once incomingRequest wrote
  // nothing, 30 such 414s wrote no line at all, and the request id of one led nowhere.
  it('logs a 414 and a bad-URL 400 the router refuses, sampled as unmatched refusals', async () => {
    const svc = await startTestService();
    const each = 15;
    let before = 0;
    const ids: string[] = [];
    try {
      before = svc.logs().length;
      for (let i = 0; i < each; i++) {
        for (const path of [`/v1/entities/node/${'y'.repeat(MAX_PATH_PARAM_CHARS + 180)}`, '/v1/entities/node/x%E0%A4%A']) {
          const res = await fetch(`${svc.url}${path}`);
          await res.arrayBuffer();
          expect([414, 400]).toContain(res.status);
          ids.push(res.headers.get('x-request-id')!);
        }
      }
      await settle();
      const written = parsed(svc.logs().slice(before));
      const first414 = written.filter((l) => l.reqId === ids[0]);
      expect(first414).toEqual([expect.objectContaining({ msg: 'request completed', res: expect.objectContaining({ statusCode: 414 }) })]);
      const first400 = written.filter((l) => l.reqId === ids[1]);
      expect(first400).toEqual([expect.objectContaining({ msg: 'request completed', res: expect.objectContaining({ statusCode: 400 }) })]);
      expect(written.filter((l) => l.req !== undefined)).toHaveLength(REFUSALS_LOGGED_PER_ADDRESS);
    } finally {
      await svc.close();
    }
    const suppressed = parsed(svc.logs().slice(before)).filter((l) => l.msg === 'refusals not logged');
    expect(suppressed).toEqual([expect.objectContaining({ remoteAddress: '127.0.0.1', suppressed: 2 * each - REFUSALS_LOGGED_PER_ADDRESS })]);
  }, 60_000);

  // Review 382 #2: the bound was per address only; 5,000 IPv6 /64s (one /48 holds 65,536) × 30 refusals logged 20,020
  // whole lines in one window, past the 8 MiB where log-destination.ts drops lines.
  it('logs at most a global budget of whole refusals per window, whatever the number of addresses', () => {
    const said: { fields: Record<string, unknown>; msg: string }[] = [];
    const log = { info: (fields: Record<string, unknown>, msg: string) => said.push({ fields, msg }) } as unknown as FastifyBaseLogger;
    const sampler = refusalSampler({ windowMs: 60_000, log: () => log, now: () => 0 });
    const addresses = 5_000;
    const each = 30;
    let logged = 0;
    for (let a = 0; a < addresses; a++) for (let i = 0; i < each; i++) if (sampler.logs(`2001:db8:${a.toString(16)}::`)) logged++;
    sampler.flush();
    expect(logged).toBe(MAX_REFUSALS_LOGGED_PER_WINDOW);
    expect(said.length).toBeLessThanOrEqual(MAX_ADDRESSES_SAMPLED + 2);
    const counted = said.reduce((sum, line) => sum + (line.fields.suppressed as number), 0);
    expect(counted).toBe(addresses * each - MAX_REFUSALS_LOGGED_PER_WINDOW);
    // A new window logs again.
    expect(sampler.logs('2001:db8:1::')).toBe(true);
    sampler.flush();
  });

  // Review 382 #2: the HTTP parser's refusals were one line each: 200 malformed requests wrote 200 lines.
  it('samples the HTTP parser refusals as the other refusals', async () => {
    const svc = await startTestService();
    const flood = 60;
    let before = 0;
    try {
      const { port } = new URL(svc.url);
      before = svc.logs().length;
      for (let i = 0; i < flood; i++) {
        await new Promise<void>((resolve, reject) => {
          const socket = connect(Number(port), '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n'));
          socket.on('data', () => {});
          socket.on('close', () => resolve());
          socket.on('error', reject);
        });
      }
      await settle();
      expect(parsed(svc.logs().slice(before)).filter((l) => l.msg === 'request refused by the HTTP parser')).toHaveLength(REFUSALS_LOGGED_PER_ADDRESS);
    } finally {
      await svc.close();
    }
    const suppressed = parsed(svc.logs().slice(before)).filter((l) => l.msg === 'refusals not logged');
    expect(suppressed).toEqual([expect.objectContaining({ remoteAddress: '127.0.0.1', suppressed: flood - REFUSALS_LOGGED_PER_ADDRESS })]);
  }, 60_000);
});
