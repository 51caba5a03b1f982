import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 263: a request sending `Last-Event-ID: 3` and `Last-Event-ID: 5` was refused 400 "must be an event id…", the
 * pattern's words, because Node joins the two lines into `3, 5`; a query parameter sent twice is refused as that, rule
 * `repeated`. So is the header now, at `headers.last-event-id`, whether its lines were two or one a proxy combined
 * (RFC 9110 5.3: the same). Sent as raw lines on a socket: fetch would send one header.
 */

const svc = useTestService();

interface Answer {
  readonly status: number;
  readonly errors: ReadonlyArray<{ readonly path: string; readonly rule: string }>;
}

/** The body of an HTTP/1.1 answer, its chunks joined when it is chunked. */
const bodyOf = (head: string, rest: string): string => {
  if (!/^transfer-encoding:\s*chunked/im.test(head)) return rest;
  let body = '';
  for (let at = 0; ; ) {
    const lineEnd = rest.indexOf('\r\n', at);
    const size = Number.parseInt(rest.slice(at, lineEnd), 16);
    if (!(size > 0)) return body;
    body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
};

/** GET /v1/events as an auditor, sending each of `lastEventIds` as a Last-Event-ID line of its own. */
const getWithLastEventIds = (lastEventIds: readonly string[]): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const url = new URL(svc.url);
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const lines = [
      'GET /v1/events HTTP/1.1',
      `Host: ${url.host}`,
      `Authorization: Bearer ${svc.tokens.auditor}`,
      'Accept: text/event-stream',
      ...lastEventIds.map((id) => `Last-Event-ID: ${id}`),
      'Connection: close',
    ];
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const split = received.indexOf('\r\n\r\n');
      const head = received.slice(0, split);
      const status = Number(head.split(' ')[1]);
      const body = JSON.parse(bodyOf(head, received.slice(split + 4))) as { errors?: Answer['errors'] };
      resolve({ status, errors: (body.errors ?? []).map(({ path, rule }) => ({ path, rule })) });
    });
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  });

describe('GET /v1/events with Last-Event-ID sent more than once', () => {
  it.each([
    ['two ids', ['3', '5']],
    ['the same id twice', ['5', '5']],
    ['an empty one and an id', ['', '5']],
    ['two ids combined in one line, as a proxy may', ['3, 5']],
  ])('refuses %s as repeated, naming the header', async (_, ids) => {
    expect(await getWithLastEventIds(ids)).toEqual({ status: 400, errors: [{ path: 'headers.last-event-id', rule: 'repeated' }] });
  });
});
