import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyBaseLogger } from 'fastify';
import { answerClientError, reportClientErrors } from '../adapters/http/client-error-handler.ts';
import { limitConnections } from '../adapters/http/connection-limits.ts';
import { nodeHttpOptions } from '../adapters/http/request-head.ts';
import { rawHttpSocket, until } from './support/raw-http-socket.ts';

/*
 * Review 444: a request pipelined behind a long-running command, whose head did not come in time, was refused with
 * `408` written at once: the first answer on the connection, which its client reads as the command's, though the
 * command ran. A refusal is written only where no earlier request's answer is still owed; otherwise nothing is written,
 * the connection stops reading, and it is closed once the answers owed have been sent.
 * The listener is built as the service builds its ports (Node's options, the parser's refusals, the connection bounds),
 * with one route the test holds as a command that takes its time.
 */
const REQUEST_TIMEOUT_MS = 1_000;
const limits = { requestTimeoutMs: REQUEST_TIMEOUT_MS, maxConnections: 10, maxConnectionsPerAddress: 10 };
// A socket timeout far past every bound the tests below hold the service to (review 449: a half-closing client held its slot
// until this timeout).
const CONNECTION_TIMEOUT_MS = 30_000;
const app = Fastify({ http: nodeHttpOptions(limits), requestTimeout: REQUEST_TIMEOUT_MS, connectionTimeout: CONNECTION_TIMEOUT_MS, clientErrorHandler: answerClientError });
let release: () => void = () => undefined;
let ran = 0;
let entered = false;
app.post('/command', async () => {
  entered = true;
  await new Promise<void>((resolve) => (release = resolve));
  ran += 1;
  return { ran: true };
});
// A command that takes its time only the first time it is sent on a connection, then answers at once (review 449).
let timedRuns = 0;
app.post('/timed', async () => {
  const run = (timedRuns += 1);
  if (run === 1) await new Promise((r) => setTimeout(r, 300));
  return { run };
});
let quickGets = 0;
app.get('/quick', async () => ({ get: (quickGets += 1) }));
let counted = 0;
app.post('/count', async () => ({ count: (counted += 1) }));
app.get('/count', async () => ({ count: (counted += 1) }));
// A command that never answers while the test runs.
let hung = false;
app.post('/hang', async () => {
  hung = true;
  await new Promise(() => undefined);
});
const connections = limitConnections(app.server, limits, { openFiles: undefined });
const refusals: { status: number; route: string }[] = [];
const lines: { obj: Record<string, unknown>; msg: string }[] = [];
const log = { info: (obj: Record<string, unknown>, msg: string) => lines.push({ obj, msg }) } as unknown as FastifyBaseLogger;
reportClientErrors(app.server, { metrics: { requestRefused: (status, route) => refusals.push({ status, route }) }, log });
let url = '';

beforeAll(async () => {
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  release();
  await app.close();
});

describe('a request pipelined behind a command still running, whose head does not come within the timeout', () => {
  it('gets no refusal written as the first answer: the command\'s own answer comes, then the connection is closed', async () => {
    const raw = await rawHttpSocket(url);
    const refused = new Promise<void>((resolve) => app.server.once('clientError', () => resolve()));
    try {
      raw.socket.write('POST /command HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
      raw.socket.write('GET /elsewhere HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      expect(await until(() => entered, 5_000)).toBe(true);
      // Node's check refuses the second request's head while the command runs.
      await refused;
      await new Promise((r) => setTimeout(r, 200));
      expect(raw.received()).toBe('');
      release();
      expect(await raw.closedWithin(10_000)).toBe(true);
      expect(ran).toBe(1);
      const answer = raw.received();
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      expect(answer).toContain('{"ran":true}');
      expect(answer).not.toContain('HTTP/1.1 408');
    } finally {
      raw.socket.destroy();
    }
  });
});

/** How many HTTP/1.1 answers `text` holds. */
const answersIn = (text: string): number => text.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0;
const GARBAGE = 'GARBAGE\x01 / HTTP/1.1\r\n\r\n';

describe('a request the parser refuses, pipelined behind answers still owed (review 449)', () => {
  it('gets every owed answer sent, a slow command\'s and the quick ones queued behind it, then the connection closed', async () => {
    const raw = await rawHttpSocket(url);
    const refused = new Promise<void>((resolve) => app.server.once('clientError', () => resolve()));
    try {
      timedRuns = 0;
      const command = 'POST /timed HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}';
      raw.socket.write(command.repeat(5) + GARBAGE);
      await refused;
      expect(await raw.closedWithin(10_000)).toBe(true);
      expect(timedRuns).toBe(5);
      const answer = raw.received();
      expect(answersIn(answer)).toBe(5);
      expect(answer.match(/HTTP\/1\.1 200 /g)?.length).toBe(5);
      for (let run = 1; run <= 5; run += 1) expect(answer).toContain(`{"run":${run}}`);
      expect(answer).not.toContain('HTTP/1.1 400');
    } finally {
      raw.socket.destroy();
    }
  });

  it('gets a hundred pipelined GETs behind a slow command their hundred answers', async () => {
    const raw = await rawHttpSocket(url);
    try {
      timedRuns = 0;
      quickGets = 0;
      const command = 'POST /timed HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}';
      raw.socket.write(command + 'GET /quick HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(100) + GARBAGE);
      expect(await raw.closedWithin(10_000)).toBe(true);
      expect(quickGets).toBe(100);
      expect(answersIn(raw.received())).toBe(101);
      expect(raw.received()).toContain('{"get":100}');
    } finally {
      raw.socket.destroy();
    }
  });

  it('is counted and logged as the parser\'s other refusals are, as unanswered', async () => {
    const raw = await rawHttpSocket(url);
    try {
      timedRuns = 0;
      refusals.length = 0;
      lines.length = 0;
      raw.socket.write('POST /timed HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}' + GARBAGE);
      expect(await raw.closedWithin(10_000)).toBe(true);
      expect(answersIn(raw.received())).toBe(1);
      expect(refusals).toEqual([{ status: 400, route: 'unmatched' }]);
      expect(lines).toHaveLength(1);
      expect(lines[0]!.msg).toBe('request refused by the HTTP parser');
      expect(lines[0]!.obj).toMatchObject({ answered: false, res: { statusCode: 400, problem: 'malformed_request' } });
    } finally {
      raw.socket.destroy();
    }
  });

  it('releases the connection\'s slot promptly when its client half-closes, long before the socket timeout', async () => {
    expect(await until(() => connections.openFrom('127.0.0.1') === 0, 5_000)).toBe(true);
    const raw = await rawHttpSocket(url);
    const refused = new Promise<void>((resolve) => app.server.once('clientError', () => resolve()));
    try {
      raw.socket.write('POST /hang HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}' + GARBAGE);
      expect(await until(() => hung, 5_000)).toBe(true);
      await refused;
      expect(connections.openFrom('127.0.0.1')).toBe(1);
      raw.socket.end();
      // Far under CONNECTION_TIMEOUT_MS: the client's FIN is noticed while the command still runs.
      expect(await until(() => connections.openFrom('127.0.0.1') === 0, 5_000)).toBe(true);
      expect(await raw.closedWithin(5_000)).toBe(true);
    } finally {
      raw.socket.destroy();
    }
  });

  it('runs no request sent after a timeout refused one behind a command still running, its head completed late (review 453)', async () => {
    hung = false;
    counted = 0;
    const raw = await rawHttpSocket(url);
    const refused = new Promise<void>((resolve) => app.server.once('clientError', () => resolve()));
    try {
      raw.socket.write('POST /hang HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
      raw.socket.write('GET /count HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      expect(await until(() => hung, 5_000)).toBe(true);
      await refused;
      const count = 'POST /count HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}';
      raw.socket.write('\r\n' + count.repeat(3));
      await new Promise((r) => setTimeout(r, 500));
      expect(counted).toBe(0);
      expect(raw.received()).toBe('');
    } finally {
      raw.socket.destroy();
    }
  });

  it('closes a connection that streams on behind a refusal while a command still runs, past a bound of bytes (review 453)', async () => {
    hung = false;
    const raw = await rawHttpSocket(url);
    const refused = new Promise<void>((resolve) => app.server.once('clientError', () => resolve()));
    try {
      raw.socket.write('POST /hang HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}' + GARBAGE);
      expect(await until(() => hung, 5_000)).toBe(true);
      await refused;
      raw.socket.on('error', () => undefined);
      raw.socket.write(Buffer.alloc(256 * 1024, 0x61));
      expect(await raw.closedWithin(5_000)).toBe(true);
    } finally {
      raw.socket.destroy();
    }
  });
});
