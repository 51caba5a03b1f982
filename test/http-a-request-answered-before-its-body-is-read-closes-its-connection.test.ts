/**
 * Review 158 (F1): a 401 or 403 is raised before the body is read, and a 404 `route_not_found` too; those answers went
 * out keep-alive, and Node then read and discarded the rest of the body: a chunked body with no end, sent with no
 * token, fed the service 563 MB in 45 s on one connection whose slot it held, whatever `limits.requestTimeoutMs`.
 * An answer sent before its request's body was wholly read now says `Connection: close` and the connection ends with
 * it, while the client still sends; an answer to a request read whole keeps its connection.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { rawHttpSocket, until, type RawHttpSocket } from './support/raw-http-socket.ts';
import { useTestService } from './support/service.ts';

interface Conversation extends RawHttpSocket {
  /** Resolves once the server sent a whole response head; rejects after `ms`. */
  head(ms?: number): Promise<string>;
}

const converse = async (url: string): Promise<Conversation> => {
  const raw = await rawHttpSocket(url);
  return {
    ...raw,
    async head(ms = 5_000) {
      if (!(await until(() => raw.received().includes('\r\n\r\n'), ms))) throw new Error(`no response head within ${ms} ms: ${JSON.stringify(raw.received())}`);
      return raw.received().slice(0, raw.received().indexOf('\r\n\r\n'));
    },
  };
};

/** Sends chunks of a body with no end every few ms, as the attack did, until the connection closes or `stop()`. */
const endlessChunks = (socket: Socket): { stop(): void; sent(): number } => {
  const chunk = `${(16_384).toString(16)}\r\n${'x'.repeat(16_384)}\r\n`;
  let sent = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || socket.writableEnded) return clearInterval(timer);
    socket.write(chunk);
    sent += chunk.length;
  }, 5);
  return { stop: () => clearInterval(timer), sent: () => sent };
};

const chunkedPost = (path: string, authorization?: string): string =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n` +
  `${authorization !== undefined ? `Authorization: ${authorization}\r\n` : ''}\r\n` +
  `1\r\n{\r\n`;

describe('an answer sent before the request body was read', () => {
  const svc = useTestService({ config: { limits: { requestTimeoutMs: 30_000 } } });

  const refusedAndClosed = async (request: string, status: number) => {
    const c = await converse(svc.url);
    c.socket.write(request);
    const sending = endlessChunks(c.socket);
    try {
      const head = await c.head();
      expect(head).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
      expect(head.toLowerCase()).toContain('connection: close');
      // The client keeps sending; the server stops reading within a short bound, not at requestTimeoutMs.
      expect(await c.closedWithin(2_000)).toBe(true);
      expect(sending.sent()).toBeLessThan(64 * 1024 * 1024);
    } finally {
      sending.stop();
      c.socket.destroy();
    }
  };

  it('401 with no token on a route that takes a body: closes the connection while the client still sends', async () => {
    await refusedAndClosed(chunkedPost('/v1/commands'), 401);
  });

  it('401 with a forged token', async () => {
    const token = svc.tokens.operator;
    const forged = `${token.slice(0, -10)}${token.slice(-10).split('').reverse().join('')}`;
    await refusedAndClosed(chunkedPost('/v1/commands', `Bearer ${forged}`), 401);
  });

  it("403 with an auditor's token on an operator route", async () => {
    await refusedAndClosed(chunkedPost('/v1/commands', `Bearer ${svc.tokens.auditor}`), 403);
  });

  it('404 route_not_found', async () => {
    await refusedAndClosed(chunkedPost('/v1/no-such-route', `Bearer ${svc.tokens.operator}`), 404);
  });

  it("400 for a path the router refuses (no onSend hook runs for it)", async () => {
    await refusedAndClosed(chunkedPost('/v1/entities/%E0%A4%A'), 400);
  });

  it('401 with a declared length whose body has not all come', async () => {
    const c = await converse(svc.url);
    c.socket.write(`POST /v1/commands HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"a":`);
    try {
      expect(await c.head()).toMatch(/^HTTP\/1.1 401 /);
      expect(c.received().toLowerCase()).toContain('connection: close');
      expect(await c.closedWithin(2_000)).toBe(true);
    } finally {
      c.socket.destroy();
    }
  });

  it('keeps the connection of a request whose body was read whole, refused or not', async () => {
    const c = await converse(svc.url);
    try {
      const body = '{"type":"nothing"}';
      c.socket.write(
        `POST /v1/commands HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${svc.tokens.operator}\r\n` +
          `Content-Length: ${body.length}\r\n\r\n${body}`,
      );
      const head = await c.head();
      expect(head).toMatch(/^HTTP\/1.1 400 /);
      expect(head.toLowerCase()).not.toContain('connection: close');
      // The same connection serves the next request.
      const before = c.received().length;
      c.socket.write(`GET /v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${svc.tokens.admin}\r\n\r\n`);
      for (let i = 0; i < 200 && !c.received().slice(before).includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 10));
      expect(c.received().slice(before)).toMatch(/^HTTP\/1.1 200 /);
      expect(await c.closedWithin(300)).toBe(false);
    } finally {
      c.socket.destroy();
    }
  });

  it('keeps the connection of a refusal of a request that sent no body', async () => {
    const c = await converse(svc.url);
    try {
      c.socket.write(`GET /v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      const head = await c.head();
      expect(head).toMatch(/^HTTP\/1.1 401 /);
      expect(head.toLowerCase()).not.toContain('connection: close');
      expect(await c.closedWithin(300)).toBe(false);
    } finally {
      c.socket.destroy();
    }
  });
});
