/**
 * Review 342: a body read whole and then refused by the JSON parser (invalid or empty JSON, too deep, too many values,
 * a member name twice, bytes that are not UTF-8, another charset) was answered `Connection: close`, as Fastify's
 * content-type parser says of every parser error (content-type-parser.js: "the client may send more data"). Review
 * 166's rule is that only an unread or large body closes its connection: one read whole leaves nothing to send, so the
 * connection now serves the next request. A body cut off at its limit, not read whole, still closes it.
 */
import { describe, expect, it } from 'vitest';
import { rawHttpSocket, until } from './support/raw-http-socket.ts';
import { useTestService } from './support/service.ts';

const HEAD_END = '\r\n\r\n';

describe('a small body read whole and refused by the JSON parser', () => {
  const svc = useTestService({ config: { limits: { jsonMaxDepth: 4, jsonMaxValues: 16, bodyLimitBytes: 8 * 1024 } } });

  const post = (body: Buffer, contentType = 'application/json'): Buffer =>
    Buffer.concat([
      Buffer.from(
        `POST /v1/commands HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\nAuthorization: Bearer ${svc.tokens.operator}\r\n` +
          `Content-Length: ${body.length}\r\n\r\n`,
      ),
      body,
    ]);

  it.each([
    ['invalid JSON', Buffer.from('{"type":'), 400, undefined],
    ['an empty body', Buffer.alloc(0), 400, undefined],
    ['a body too deep (max_depth)', Buffer.from('{"a":[[[[[1]]]]]}'), 400, 'max_depth'],
    ['a body of too many values (max_values)', Buffer.from(JSON.stringify({ a: Array.from({ length: 40 }, (_, i) => i) })), 400, 'max_values'],
    ['a member name twice (duplicate_name)', Buffer.from('{"type":"a","type":"b"}'), 400, 'duplicate_name'],
    ['bytes that are not UTF-8 (utf8)', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), 400, 'utf8'],
    ['a lone surrogate escaped', Buffer.from('{"a":"\\ud800"}'), 400, undefined],
  ] as const)('%s: refused without Connection: close, and the connection serves the next request', async (_, body, status, rule) => {
    const c = await rawHttpSocket(svc.url);
    try {
      c.socket.write(post(body));
      expect(await until(() => c.received().includes(HEAD_END) && c.received().endsWith('}'), 5_000)).toBe(true);
      const first = c.received();
      const head = first.slice(0, first.indexOf(HEAD_END)).toLowerCase();
      expect(first).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
      if (rule !== undefined) expect(first).toContain(`"rule":"${rule}"`);
      expect(head).not.toContain('connection: close');
      c.socket.write(`GET /v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${svc.tokens.admin}\r\n\r\n`);
      expect(await until(() => c.received().slice(first.length).includes(HEAD_END), 5_000)).toBe(true);
      expect(c.received().slice(first.length)).toMatch(/^HTTP\/1.1 200 /);
      expect(await c.closedWithin(300)).toBe(false);
    } finally {
      c.socket.destroy();
    }
  });

  it('another charset (415), read whole: kept too', async () => {
    const c = await rawHttpSocket(svc.url);
    try {
      c.socket.write(post(Buffer.from('{"type":"x"}'), 'application/json; charset=latin1'));
      expect(await until(() => c.received().includes(HEAD_END) && c.received().endsWith('}'), 5_000)).toBe(true);
      expect(c.received()).toMatch(/^HTTP\/1.1 415 /);
      expect(c.received().split(HEAD_END)[0]!.toLowerCase()).not.toContain('connection: close');
      expect(await c.closedWithin(300)).toBe(false);
    } finally {
      c.socket.destroy();
    }
  });

  it('a chunked body cut off past its limit, not read whole, still closes the connection', async () => {
    const c = await rawHttpSocket(svc.url);
    try {
      const chunk = `{"a":"${'x'.repeat(9 * 1024)}"}`;
      c.socket.write(
        `POST /v1/commands HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${svc.tokens.operator}\r\n` +
          `Transfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n`,
      );
      expect(await until(() => c.received().includes(HEAD_END), 5_000)).toBe(true);
      expect(c.received()).toMatch(/^HTTP\/1.1 413 /);
      expect(c.received().split(HEAD_END)[0]!.toLowerCase()).toContain('connection: close');
      expect(await c.closedWithin(2_000)).toBe(true);
    } finally {
      c.socket.destroy();
    }
  });
});
