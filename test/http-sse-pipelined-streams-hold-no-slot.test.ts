import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';
import { openStream, type RawStream } from './http-sse.fixtures.ts';
import { body } from './http-conformance.fixtures.ts';

/*
 * Found in adversarial review (SER-001): event streams requested behind another request on the same HTTP/1.1
 * connection (pipelining) kept their slots after the client left. A response queued behind an earlier one has no
 * socket yet, and Node never emits 'close' on it when the connection closes, so the stream ran on with no client
 * (slot, store subscription, timers, a pseudonymised stream's copy of the fleet's identities) until its token
 * expired. Two integrators with four pipelined streams each held the service's eight pseudonymised places.
 * A stream must now be the only request in flight on its connection: one queued behind another is refused (400
 * pipelined_stream) before it takes a slot, and answered in its turn.
 */

let svc: TestService;
let port: number;
beforeAll(async () => {
  svc = await startTestService({
    config: { limits: { maxSseStreamsPerPrincipal: 4, maxPseudonymisedStreams: 8, sseHeartbeatMs: 100, sseStallMs: 500 } },
  });
  port = Number(new URL(svc.url).port);
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

const integrator = async (subject: string): Promise<string> =>
  (await svc.service.context.access.issue({ subject, role: 'integrator', ttlSeconds: 600, issuedBy: 'test' })).token;

const get = (token: string, query: string): string =>
  `GET /v1/events?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`;

/** One connection: a canonical stream first, then `count` integrator streams pipelined behind it. */
const pipeline = async (head: string, token: string, count: number) => {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  const first = once(socket, 'data');
  socket.write(get(head, 'from=end') + get(token, 'from=end').repeat(count));
  await first;
  return { socket, received: () => Buffer.concat(received).toString('utf8') };
};

const integratorClients = async (): Promise<number> => {
  const text = await (await fetch(new URL('/metrics', svc.url))).text();
  const line = /credence_sse_clients\{role="integrator"\} (\d+)/.exec(text);
  return line === null ? 0 : Number(line[1]);
};

const statuses = (streams: readonly RawStream[]): number[] => streams.map((s) => s.status);

describe('event streams pipelined behind another request', () => {
  it('hold no slot: after the client leaves the gauge is 0, the same principal opens 4 streams at once, and another integrator is not refused', async () => {
    const a = await integrator('pipe-a');
    const b = await integrator('pipe-b');
    for (const token of [a, b]) {
      const { socket, received } = await pipeline(svc.tokens.operator, token, 4);
      await sleep(300);
      // Only the first stream is answered: whatever is queued behind an endless stream never gets its turn.
      expect(received()).toMatch(/^HTTP\/1\.1 200/);
      expect(received().match(/HTTP\/1\.1/g)).toHaveLength(1);
      socket.destroy();
    }
    await sleep(1_000);

    await expect.poll(integratorClients, { timeout: 5_000 }).toBe(0);
    const again = await Promise.all([0, 1, 2, 3].map(() => openStream(svc.url, a, '/v1/events?from=end')));
    const other = await openStream(svc.url, await integrator('pipe-c'), '/v1/events?from=end');
    try {
      expect(statuses(again)).toEqual([200, 200, 200, 200]);
      expect(other.status).toBe(200);
    } finally {
      for (const s of [...again, other]) s.close();
    }
    await expect.poll(integratorClients, { timeout: 5_000 }).toBe(0);
  });

  it('hold no slot while their connection is still open: the principal can still open its 4 streams elsewhere', async () => {
    const d = await integrator('pipe-d');
    const { socket } = await pipeline(svc.tokens.operator, d, 4);
    try {
      await sleep(300);
      const elsewhere = await Promise.all([0, 1, 2, 3].map(() => openStream(svc.url, d, '/v1/events?from=end')));
      try {
        expect(statuses(elsewhere)).toEqual([200, 200, 200, 200]);
      } finally {
        for (const s of elsewhere) s.close();
      }
    } finally {
      socket.destroy();
    }
    await expect.poll(integratorClients, { timeout: 5_000 }).toBe(0);
  });

  it('are refused with 400 pipelined_stream, answered in turn after the request ahead of them, and take no slot', async () => {
    const { engine } = svc.service.context.credence;
    const execute = engine.execute.bind(engine);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // The command ahead is held in the engine, so its response is still in flight when the stream is asked for.
    const spy = vi.spyOn(engine, 'execute').mockImplementation(async (input, options) => {
      await held;
      return execute(input, options);
    });
    const e = await integrator('pipe-e');
    const socket = connect(port, '127.0.0.1');
    try {
      await once(socket, 'connect');
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      const command = JSON.stringify(body.registerNode('pipelined-1'));
      socket.write(
        `POST /v1/commands HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${svc.tokens.operator}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(command)}\r\n\r\n${command}` +
          get(e, 'from=end'),
      );
      await sleep(1_000);
      expect(received).toHaveLength(0);
      expect(await integratorClients()).toBe(0);
      release();
      const text = (): string => Buffer.concat(received).toString('utf8');
      await expect.poll(() => text().match(/HTTP\/1\.1 \d+/g), { timeout: 5_000 }).toHaveLength(2);
      const [, second] = text().split(/(?=HTTP\/1\.1 )/);
      expect(text()).toMatch(/^HTTP\/1\.1 20\d/);
      expect(second).toMatch(/^HTTP\/1\.1 400/);
      expect(second).toMatch(/pipelined_stream/);
      expect(second).toMatch(/the only request in flight on its connection/);
      expect(second).not.toContain(e);
    } finally {
      spy.mockRestore();
      release();
      socket.destroy();
    }
    await expect.poll(integratorClients, { timeout: 5_000 }).toBe(0);
    const after = await openStream(svc.url, e, '/v1/events?from=end');
    after.close();
    expect(after.status).toBe(200);
  });
});
