/**
 * Issue 1071: on a loaded 2-core CI machine `credence demo` was refused by the service it had started itself, 503
 * `overloaded (eventLoopDelay)` with Retry-After, and exited with that error. The CLI's client (adapters/client/http.ts,
 * shared by the demo, the operator commands and the device simulator) now waits out the service's "not now" (503
 * `overloaded` or `starting`, 429) as its Retry-After says, each wait capped and the whole bounded, and only for a
 * request safe to send again: a GET, or a command carrying its command id (stored once at most). Past the bound, the
 * refusal is the one it was. Any other refusal, and a POST without a command id, is never sent again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { ProblemResponse, request, RETRY_NOT_NOW } from '../adapters/client/http.ts';
import { operatorClient } from '../adapters/client/operator.ts';
import { runScenario } from '../bin/commands/demo/scenario.ts';
import { handlerServers } from './support/canned-server.ts';

const serve = handlerServers();
const PROBLEMS = 'https://credence.dev/problems/';

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

/** A server answering its n-th request (from 0) with `answer(n)`, keeping each request it read. */
const scripted = async (answer: (n: number, seen: Seen) => { status: number; headers?: Record<string, string>; body: unknown }) => {
  const seen: Seen[] = [];
  const url = await serve((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const one = { method: req.method ?? '', path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') };
      const { status, headers = {}, body } = answer(seen.length, one);
      seen.push(one);
      const type = status >= 400 ? 'application/problem+json' : 'application/json';
      res.writeHead(status, { 'content-type': type, ...headers }).end(JSON.stringify(body));
    });
  });
  return { url, seen };
};

const overloaded = (retryAfter: string, reason = 'eventLoopDelay') => ({
  status: 503,
  headers: { 'retry-after': retryAfter },
  body: { type: `${PROBLEMS}overloaded`, title: 'Service unavailable', status: 503, detail: `the service is overloaded (${reason}); retry later`, reason },
});
const starting = { status: 503, headers: { 'retry-after': '1' }, body: { type: `${PROBLEMS}starting`, title: 'Service unavailable', status: 503, detail: 'the service is starting and serves nothing yet; retry in a moment' } };
const rateLimited = { status: 429, headers: { 'retry-after': '0' }, body: { type: `${PROBLEMS}rate_limited`, title: 'Too many requests', status: 429, detail: 'too many requests; retry in 0 s' } };
const ok = { status: 200, body: { queries: ['fine'] } };

const refusal = async (promise: Promise<unknown>): Promise<ProblemResponse> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProblemResponse);
  return error as ProblemResponse;
};

describe('the CLI client waits out the service shedding load, for a request safe to send again', () => {
  it('gets the 200 of a GET refused twice 503 overloaded (Retry-After 0, then 1)', async () => {
    const server = await scripted((n) => (n === 0 ? overloaded('0') : n === 1 ? overloaded('1') : ok));
    const started = performance.now();
    await expect(operatorClient(server.url, 'a.b.c').complianceCatalog()).resolves.toEqual(ok.body);
    expect(server.seen.map((s) => s.method)).toEqual(['GET', 'GET', 'GET']);
    // The second refusal's Retry-After (1 s) was waited out.
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('gets the 200 after a 503 starting and a 429 with Retry-After', async () => {
    const server = await scripted((n) => (n === 0 ? starting : n === 1 ? rateLimited : ok));
    await expect(operatorClient(server.url, 'a.b.c').complianceCatalog()).resolves.toEqual(ok.body);
    expect(server.seen).toHaveLength(3);
  });

  it('gives up past the bound of retries with the refusal as it was', async () => {
    const server = await scripted(() => overloaded('0'));
    const error = await refusal(operatorClient(server.url, 'a.b.c').complianceCatalog());
    expect(error.status).toBe(503);
    expect(error.message).toBe('the service is overloaded (eventLoopDelay); retry later');
    expect(error.problem.type).toBe(`${PROBLEMS}overloaded`);
    expect(server.seen).toHaveLength(1 + RETRY_NOT_NOW.maxRetries);
  });

  it('caps each wait and bounds the whole wait', async () => {
    // Retry-After 10 s, each wait capped at 200 ms, 500 ms in all: waits of 200 and 200 ms, then no third.
    const server = await scripted(() => overloaded('10'));
    const started = performance.now();
    const error = await refusal(request(server.url, { path: '/v1/replay', retry: { ...RETRY_NOT_NOW, maxWaitMs: 200, maxTotalWaitMs: 500 } }));
    const took = performance.now() - started;
    expect(error.retryAfterMs).toBe(10_000);
    expect(server.seen).toHaveLength(3);
    expect(took).toBeGreaterThanOrEqual(380);
    expect(took).toBeLessThan(5_000);
  });

  it('caps a wait of the default bounds at 5 s and bounds them all at 30 s', () => {
    expect(RETRY_NOT_NOW.maxWaitMs).toBe(5_000);
    expect(RETRY_NOT_NOW.maxTotalWaitMs).toBe(30_000);
  });

  it.each([
    ['a 503 store_unavailable with Retry-After', { status: 503, headers: { 'retry-after': '0' }, body: { type: `${PROBLEMS}store_unavailable`, title: 'Store unavailable', status: 503, reason: 'busy' } }],
    ['a 503 overloaded while shutting down', overloaded('0', 'shutting down')],
    ["a proxy's 503 with Retry-After", { status: 503, headers: { 'retry-after': '0' }, body: { type: 'about:blank', title: 'Service Unavailable', status: 503 } }],
    ['a 503 overloaded without Retry-After', { status: 503, body: overloaded('0').body }],
    ['a 500 with Retry-After', { status: 500, headers: { 'retry-after': '0' }, body: { type: `${PROBLEMS}internal`, title: 'Internal', status: 500 } }],
    ['a 409', { status: 409, body: { type: `${PROBLEMS}illegal_transition`, title: 'Illegal transition', status: 409 } }],
  ])('never sends again after %s', async (_name, answer) => {
    const server = await scripted(() => answer);
    const error = await refusal(operatorClient(server.url, 'a.b.c').complianceCatalog());
    expect(error.status).toBe(answer.status);
    expect(server.seen).toHaveLength(1);
  });

  it('sends a command with its command id again, the same command, and gets its outcome', async () => {
    const outcome = { commandId: '7c4d1f2e-3b5a-4c6d-8e9f-0a1b2c3d4e5f', streamId: 'node-n1', state: 'registered', deduplicated: false, events: [] };
    const server = await scripted((n) => (n < 2 ? overloaded('0') : { status: 201, body: outcome }));
    const sent = await operatorClient(server.url, 'a.b.c').command({ type: 'registerNode', data: { nodeId: 'n1' }, commandId: outcome.commandId });
    expect(sent.status).toBe(201);
    expect(server.seen.map((s) => `${s.method} ${s.path}`)).toEqual(Array(3).fill('POST /v1/commands'));
    expect(new Set(server.seen.map((s) => s.body)).size).toBe(1);
  });

  it('never sends a command without a command id again', async () => {
    const server = await scripted(() => overloaded('0'));
    const error = await refusal(operatorClient(server.url, 'a.b.c').command({ type: 'registerNode', data: { nodeId: 'n1' } }));
    expect(error.status).toBe(503);
    expect(server.seen).toHaveLength(1);
  });

  it('stops waiting when the caller aborts', async () => {
    const server = await scripted(() => overloaded('5'));
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stopped')), 200);
    const started = performance.now();
    await expect(operatorClient(server.url, 'a.b.c', { signal: controller.signal }).complianceCatalog()).rejects.toThrow('stopped');
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(server.seen).toHaveLength(1);
  });
});

describe("the demo's commands carry a command id, so that a load-shedding refusal of one is sent again", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('sends its first command again under the same command id after a 503 overloaded', async () => {
    // Refused for load, then refused for good (a 422), which ends the scenario there.
    const server = await scripted((n) =>
      n === 0 ? overloaded('0') : { status: 422, body: { type: `${PROBLEMS}validation`, title: 'Invalid request', status: 422, detail: 'stop here' } },
    );
    const dir = mkdtempSync(join(tmpdir(), 'credence-1071-'));
    dirs.push(dir);
    const error = await refusal(
      runScenario({ operator: { url: server.url, token: 'a.b.c' }, devicesDir: join(dir, 'devices'), say: () => {}, signal: new AbortController().signal }),
    );
    expect(error.message).toBe('stop here');
    expect(server.seen.map((s) => `${s.method} ${s.path}`)).toEqual(['POST /v1/commands', 'POST /v1/commands']);
    const ids = server.seen.map((s) => (JSON.parse(s.body) as { commandId?: unknown }).commandId);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ids[1]).toBe(ids[0]);
  });
});
