import { connect, type Socket } from 'node:net';
import { expect } from 'vitest';

/** A raw node:net connection to a test service, recording what the server sent and whether it closed the connection. */
export interface RawHttpSocket {
  readonly socket: Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Whether the connection was closed by `ms` (the client writes nothing more, or keeps writing as told). */
  closedWithin(ms: number): Promise<boolean>;
}

/** Polls `done` every 10 ms for up to `ms`; whether it came true. */
export const until = async (done: () => boolean, ms: number): Promise<boolean> => {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (done()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return done();
};

/** Opens a raw HTTP/1.1 connection to the service at `url` (host and port only). */
export const rawHttpSocket = async (url: string): Promise<RawHttpSocket> => {
  const { hostname, port } = new URL(url);
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: hostname, port: Number(port) }, () => resolve(s));
    s.once('error', reject);
  });
  let text = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  // Writing into a connection the server closed: EPIPE or ECONNRESET, which is the point.
  socket.on('error', () => undefined);
  socket.once('close', () => (closed = true));
  return {
    socket,
    received: () => text,
    closedWithin: (ms) => until(() => closed, ms),
  };
};

/**
 * Sends `request` (whose `Expect` asks for more than `100-continue`) on a new raw connection to `url` and checks what
 * every port owes it (reviews 199, 202): `417 expectation_failed` as problem+json with the baseline headers, and the
 * connection closed. The answer's head, lowercased, for what one port adds.
 */
export const expectUnmetExpectRefused = async (url: string, request: string): Promise<string> => {
  const raw = await rawHttpSocket(url);
  try {
    raw.socket.write(request);
    expect(await until(() => raw.received().endsWith('}'), 5_000)).toBe(true);
    const answer = raw.received();
    const head = answer.split('\r\n\r\n')[0]!.toLowerCase();
    expect(answer).toMatch(/^HTTP\/1\.1 417 /);
    expect(head).toContain('content-type: application/problem+json');
    expect(head).toContain('x-content-type-options: nosniff');
    expect(head).toContain('x-ratelimit-remaining:');
    expect(head).toContain('connection: close');
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 417, type: 'https://credence.dev/problems/expectation_failed' });
    expect(await raw.closedWithin(5_000)).toBe(true);
    return head;
  } finally {
    raw.socket.destroy();
  }
};
