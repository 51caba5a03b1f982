import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import type { Io } from '../bin/io.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 81 finding 3: `credence token create` whose stdout failed left the token it had issued live, though the
 * token printed is its only copy. In process, with an Io whose stdout throws as the CLI's does on a full disk: the
 * token is revoked (locally or through the server, as it was issued) and that is said; where revoking fails too, the
 * token id to revoke is said. The failure itself ends the command (the CLI prints it as one line, exit 1).
 */

const scratch = temporaryFolders('credence-token-undelivered-');

class FullDisk extends Error {
  readonly code = 'ENOSPC';
}

/** An Io whose stdout refuses every line, as a full disk does; stderr is kept. */
const fullStdout = (): { io: Io; err: string[] } => {
  const c = capture();
  const out = (): void => {
    throw new FullDisk('cannot write standard output (ENOSPC)');
  };
  return { io: { ...c.io, out, env: {} }, err: c.err };
};

const tokensOf = async (data: string): Promise<{ tokenId: string; state: string; subject: string }[]> => {
  const c = capture();
  expect(await main(['token', 'list', '--all', '--json', '--data', data], { ...c.io, env: {} }), c.err.join('\n')).toBe(0);
  return JSON.parse(c.out.join('\n')).tokens;
};

describe('token create --data whose stdout fails', () => {
  it.each([[[]], [['--json']]])('revokes the token it issued and says so (%j)', async (json) => {
    const data = join(scratch(), 'data');
    const { io, err } = fullStdout();
    await expect(main(['token', 'create', '--data', data, '--role', 'admin', '--subject', 'nobody', '--ttl', '1h', ...json], io)).rejects.toBeInstanceOf(FullDisk);
    const [token] = await tokensOf(data);
    expect(token).toMatchObject({ subject: 'nobody', state: 'revoked' });
    expect(err.join('\n')).toMatch(new RegExp(`^revoked ${token!.tokenId}: it was issued, but could not be written out`));
    expect(err.join('\n')).not.toContain('shown once');
  });
});

describe('token create --server whose stdout fails', () => {
  let server: Server;
  let url = '';
  const revokes: string[] = [];
  let revokeStatus = 204;
  beforeAll(async () => {
    server = createServer((request, response) => {
      if (request.method === 'POST' && request.url === '/v1/tokens') {
        const body = { token: 'aaa.bbb.ccc', tokenId: 'tok_AAAAAAAAAAAAAAAAAAAAAA', subject: 'nobody', role: 'operator', expiresAt: '2030-01-01T00:00:00.000Z' };
        return void response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      }
      if (request.method === 'DELETE') revokes.push(request.url ?? '');
      response.writeHead(revokeStatus, { 'content-type': 'application/problem+json' }).end(revokeStatus === 204 ? undefined : '{"type":"about:blank","title":"Unavailable","status":503}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const create = (io: Io) => main(['token', 'create', '--server', url, '--token', 'x.y.z', '--role', 'operator', '--subject', 'nobody', '--ttl', '1h'], io);

  it('revokes it through the server and says so', async () => {
    revokeStatus = 204;
    revokes.length = 0;
    const { io, err } = fullStdout();
    await expect(create(io)).rejects.toBeInstanceOf(FullDisk);
    expect(revokes).toEqual(['/v1/tokens/tok_AAAAAAAAAAAAAAAAAAAAAA']);
    expect(err.join('\n')).toMatch(/^revoked tok_AAAAAAAAAAAAAAAAAAAAAA: it was issued, but could not be written out/);
  });

  it('says which token to revoke when the server refuses the revoke, and never prints the token', async () => {
    revokeStatus = 503;
    revokes.length = 0;
    const { io, err } = fullStdout();
    await expect(create(io)).rejects.toBeInstanceOf(FullDisk);
    expect(revokes).toHaveLength(1);
    const said = err.join('\n');
    expect(said).toContain('tok_AAAAAAAAAAAAAAAAAAAAAA was issued but could not be written out, and revoking it failed');
    expect(said).toContain(`revoke it: credence token revoke tok_AAAAAAAAAAAAAAAAAAAAAA --server ${url}`);
    expect(said).not.toContain('aaa.bbb.ccc');
  });
});
