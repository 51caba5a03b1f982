import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 381 item 2: the request headers a log line keeps (user-agent, accept, content-type, last-event-id) kept C1
 * controls: `User-Agent: a\x9b31mRED` reached the log as U+009B, a one-character CSI a terminal reading the log acts
 * on (JSON escapes U+0000-U+001F, not U+0080-U+009F). Every character outside printable ASCII is written `\uXXXX`.
 */
const svc = useTestService();

/** Sent over a socket of its own, each header's characters as bytes (latin1): as a client may, whatever fetch allows (Node's parser refuses DEL itself). */
const sent = (headers: Record<string, string>): Promise<string> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(svc.url);
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const id = /^x-request-id: *(\S+)/im.exec(answer)?.[1];
      if (id === undefined) reject(new Error(`no x-request-id in ${answer.slice(0, 200)}`));
      else resolve(id);
    });
    const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
    socket.end(Buffer.from(`GET /v1/entities HTTP/1.1\r\nhost: ${hostname}\r\nconnection: close\r\n${head}\r\n`, 'latin1'));
  });

const loggedHeadersOf = async (headers: Record<string, string>): Promise<{ line: string; headers: Record<string, string> }> => {
  const id = await sent(headers);
  for (let i = 0; i < 50; i++) {
    for (const line of svc.logs()) {
      const entry = JSON.parse(line) as { reqId?: string; req?: { headers?: Record<string, string> } };
      if (entry.reqId === id && entry.req?.headers !== undefined) return { line, headers: entry.req.headers };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no request line for ${String(id)}`);
};

describe('the request headers a log line keeps', () => {
  it('write C1 controls and other characters outside printable ASCII as \\uXXXX', async () => {
    const { line, headers } = await loggedHeadersOf({ 'user-agent': 'a\x9b31mRED', accept: 'x\x9fy\xe9z', 'last-event-id': '7\x85' });
    expect(line).not.toMatch(/[\u007f-\u009f]/);
    expect(headers['user-agent']).toBe('a\\u009b31mRED');
    expect(headers['accept']).toBe('x\\u009fy\\u00e9z');
    expect(headers['last-event-id']).toBe('7\\u0085');
  });

  it('keep printable ASCII as it is', async () => {
    const { headers } = await loggedHeadersOf({ 'user-agent': 'credence-cli/1.0 (linux; x64) ~!@#$%^&*()' });
    expect(headers['user-agent']).toBe('credence-cli/1.0 (linux; x64) ~!@#$%^&*()');
  });
});
