import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerClientError } from '../adapters/http/client-error-handler.ts';
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
const app = Fastify({ http: nodeHttpOptions(limits), requestTimeout: REQUEST_TIMEOUT_MS, clientErrorHandler: answerClientError });
let release: () => void = () => undefined;
let ran = 0;
let entered = false;
app.post('/command', async () => {
  entered = true;
  await new Promise<void>((resolve) => (release = resolve));
  ran += 1;
  return { ran: true };
});
limitConnections(app.server, limits, { openFiles: undefined });
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
