/**
 * Review 166: 73c431e closed the connection of every answer sent before the body it announced was read, to stop a
 * client pushing an endless body at a 401 (review 158). It over-closed: a 401/403/404 on a POST whose small body had
 * wholly arrived (Content-Length 12, in the same write) goes out before the parser reached that body, so it was closed
 * too, and a request pipelined after it in the same write was dropped. Only what is unbounded or large closes now: a
 * chunked body, or a declared length above UNREAD_BODY_KEPT_BYTES (64 KiB); a small declared length is left for Node
 * to read and discard, and the connection serves the next request. A refused `Expect: 100-continue` request is
 * answered without `100 Continue` (the body it would invite is never read), and closed, as RFC 9110 10.1.1 allows.
 */
import { describe, expect, it } from 'vitest';
import { UNREAD_BODY_KEPT_BYTES } from '../adapters/http/unread-body.ts';
import { rawHttpSocket, until, type RawHttpSocket } from './support/raw-http-socket.ts';
import { useTestService } from './support/service.ts';

interface Conversation extends RawHttpSocket {
  /** Resolves once the server sent `count` response heads (status lines), and returns their status codes. */
  statuses(count: number, ms?: number): Promise<number[]>;
}

const converse = async (url: string): Promise<Conversation> => {
  const raw = await rawHttpSocket(url);
  const codes = (): number[] => [...raw.received().matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  return {
    ...raw,
    async statuses(count, ms = 5_000) {
      await until(() => codes().length >= count && raw.received().endsWith('}'), ms);
      return codes();
    },
  };
};

const BODY = '{"type":"x"}';
const post = (path: string, options: { authorization?: string; length?: number; expect?: boolean } = {}): string =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
  `${options.authorization !== undefined ? `Authorization: ${options.authorization}\r\n` : ''}` +
  `${options.expect === true ? 'Expect: 100-continue\r\n' : ''}` +
  `Content-Length: ${options.length ?? BODY.length}\r\n\r\n`;
const healthz = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

describe('a refusal of a request whose small body came whole', () => {
  const svc = useTestService({ config: { limits: { requestTimeoutMs: 30_000 } } });

  const keptAndPipelined = async (request: string, status: number) => {
    const c = await converse(svc.url);
    try {
      // The refused request, its body, and the next request, all in one write.
      c.socket.write(`${request}${BODY}${healthz}`);
      expect(await c.statuses(2)).toEqual([status, 200]);
      expect(c.received().toLowerCase()).not.toContain('connection: close');
      expect(await c.closedWithin(300)).toBe(false);
      // And the connection serves a request sent later.
      c.socket.write(healthz);
      expect(await c.statuses(3)).toEqual([status, 200, 200]);
    } finally {
      c.socket.destroy();
    }
  };

  it('401 with no token keeps the connection and answers the GET pipelined after it', async () => {
    await keptAndPipelined(post('/v1/commands'), 401);
  });

  it("403 with an auditor's token", async () => {
    await keptAndPipelined(post('/v1/commands', { authorization: `Bearer ${svc.tokens.auditor}` }), 403);
  });

  it('404 route_not_found', async () => {
    await keptAndPipelined(post('/v1/no-such-route', { authorization: `Bearer ${svc.tokens.operator}` }), 404);
  });

  it('a 401 with the body sent after the answer: the connection is kept and serves the next request', async () => {
    const c = await converse(svc.url);
    try {
      c.socket.write(post('/v1/commands'));
      expect(await c.statuses(1)).toEqual([401]);
      expect(c.received().toLowerCase()).not.toContain('connection: close');
      c.socket.write(`${BODY}${healthz}`);
      expect(await c.statuses(2)).toEqual([401, 200]);
    } finally {
      c.socket.destroy();
    }
  });
});

describe('a refusal of a request whose body is large or unbounded still closes', () => {
  const svc = useTestService({ config: { limits: { requestTimeoutMs: 30_000 } } });

  it('a declared length one byte past the bound, sent whole: closed, the pipelined GET not answered', async () => {
    const c = await converse(svc.url);
    try {
      c.socket.write(`${post('/v1/commands', { length: UNREAD_BODY_KEPT_BYTES + 1 })}${'x'.repeat(UNREAD_BODY_KEPT_BYTES + 1)}${healthz}`);
      expect(await c.closedWithin(3_000)).toBe(true);
      expect(c.received()).toMatch(/^HTTP\/1\.1 401 /);
      expect(c.received().toLowerCase()).toContain('connection: close');
      expect([...c.received().matchAll(/HTTP\/1\.1 /g)]).toHaveLength(1);
    } finally {
      c.socket.destroy();
    }
  });

  it('a length at the bound, sent whole, is read and discarded: the pipelined GET is answered', async () => {
    const c = await converse(svc.url);
    try {
      c.socket.write(`${post('/v1/commands', { length: UNREAD_BODY_KEPT_BYTES })}${'x'.repeat(UNREAD_BODY_KEPT_BYTES)}${healthz}`);
      expect(await c.statuses(2)).toEqual([401, 200]);
      expect(c.received().toLowerCase()).not.toContain('connection: close');
    } finally {
      c.socket.destroy();
    }
  });

  it('a chunked body, even a short one sent whole: closed', async () => {
    const c = await converse(svc.url);
    try {
      c.socket.write(
        `POST /v1/commands HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
          `${BODY.length.toString(16)}\r\n${BODY}\r\n0\r\n\r\n${healthz}`,
      );
      expect(await c.closedWithin(3_000)).toBe(true);
      expect(c.received()).toMatch(/^HTTP\/1\.1 401 /);
      expect(c.received().toLowerCase()).toContain('connection: close');
    } finally {
      c.socket.destroy();
    }
  });
});

describe('Expect: 100-continue on a request refused on its headers', () => {
  const svc = useTestService({ config: { limits: { requestTimeoutMs: 30_000 } } });

  const refusedWithoutContinue = async (request: string, status: number) => {
    const c = await converse(svc.url);
    try {
      c.socket.write(request);
      expect(await c.statuses(1)).toEqual([status]);
      // No `100 Continue` invited the body the service will not read; the client is told the connection ends.
      expect(c.received()).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(c.received().toLowerCase()).toContain('connection: close');
      expect(await c.closedWithin(2_000)).toBe(true);
    } finally {
      c.socket.destroy();
    }
  };

  it('no token: 401, no 100 Continue', async () => {
    await refusedWithoutContinue(post('/v1/commands', { expect: true }), 401);
  });

  it('a bad token: 401, no 100 Continue', async () => {
    await refusedWithoutContinue(post('/v1/commands', { expect: true, authorization: 'Bearer not-a-token' }), 401);
  });

  it('no route: 404, no 100 Continue', async () => {
    await refusedWithoutContinue(post('/v1/no-such-route', { expect: true, authorization: `Bearer ${svc.tokens.operator}` }), 404);
  });

  it('a request the service reads gets 100 Continue, then its answer, and keeps its connection', async () => {
    const c = await converse(svc.url);
    try {
      c.socket.write(post('/v1/commands', { expect: true, authorization: `Bearer ${svc.tokens.operator}` }));
      expect(await until(() => c.received().startsWith('HTTP/1.1 100 Continue\r\n\r\n'), 5_000)).toBe(true);
      c.socket.write(BODY);
      // The body's command type is unknown: 400, read whole, so the connection stays.
      expect(await c.statuses(2)).toEqual([100, 400]);
      expect(c.received().toLowerCase()).not.toContain('connection: close');
      c.socket.write(healthz);
      expect(await c.statuses(3)).toEqual([100, 400, 200]);
    } finally {
      c.socket.destroy();
    }
  });
});
