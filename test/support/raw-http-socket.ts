import { connect, type Socket } from 'node:net';

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
