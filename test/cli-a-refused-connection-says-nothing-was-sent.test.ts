import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort } from './support/closed-port.ts';
import { runCli } from './support/cli.ts';

/*
 * Review 245: a refused connection, where nothing was sent, said "the outcome of command … is unknown"; a connection
 * the server closed after reading the command (a dropping proxy: the command may be recorded) said `cannot reach …:
 * other side closed`, though the server was reached. Both stay exit 3 (README's exit codes).
 */
const UUID = /--command-id ([0-9a-f-]{36})/;

describe('a command whose connection fails', () => {
  let dropping: Server;
  let droppingUrl = '';
  beforeAll(async () => {
    // Reads the request, then closes the connection without an answer.
    dropping = createServer((socket) => socket.once('data', () => socket.destroy()));
    await new Promise<void>((resolve) => dropping.listen(0, '127.0.0.1', resolve));
    droppingUrl = `http://127.0.0.1:${(dropping.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => dropping.close(() => resolve()));
  });

  const revoke = (server: string) => runCli(['node', 'revoke', 'meter-1', '--reason', 'keyCompromise', '--server', server, '--token', 'a.b.c']);

  it('says nothing was sent when the connection is refused: safe to send again (exit 3)', async () => {
    const result = await revoke(`http://127.0.0.1:${await closedPort()}`);
    expect(result.code).toBe(3);
    expect(result.err).toMatch(/was not sent \(the connection was refused/);
    expect(result.err).toMatch(/sending it again is safe/);
    expect(result.err).not.toMatch(/is unknown/);
    expect(result.err).toMatch(UUID);
  });

  it('says the connection closed before the answer, the outcome unknown, when the server took the command (exit 3)', async () => {
    const result = await revoke(droppingUrl);
    expect(result.code).toBe(3);
    expect(result.err).not.toMatch(/cannot reach/);
    expect(result.err).toMatch(/the connection to http:\/\/127\.0\.0\.1:\d+ closed before its answer \(other side closed\)/);
    expect(result.err).toMatch(/the outcome of command [0-9a-f-]{36} is unknown/);
    expect(result.err).toMatch(UUID);
  });
});
