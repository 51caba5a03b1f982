import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, UnexpectedResponse } from '../adapters/client/http.ts';

/*
 * Found in review: the CLI's client read every answer whole (`response.text()`), so a hostile server or proxy could
 * make `credence verify --server` hold an answer of any size in memory. It now reads at most `maxResponseBytes`
 * (64 MiB unless told), refusing a larger answer from its Content-Length, or once the bytes read pass the bound.
 */
describe('the HTTP client', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const size = 2 * 1024 * 1024;
      const body = JSON.stringify({ pad: 'a'.repeat(size) });
      // Declared larger than the bound, and then never sent: only the Content-Length refuses it (reading would wait).
      if (req.url === '/declared') return void res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).write('{');
      // Chunked: no length declared, the bound is met while reading.
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < body.length; i += 64 * 1024) res.write(body.slice(i, i + 64 * 1024));
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it.each(['/declared', '/chunked'])('refuses an answer past its bound at %s, naming the request', async (path) => {
    const refused = await request(url, { path, maxResponseBytes: 1024 * 1024, timeoutMs: 5_000 }).then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(UnexpectedResponse);
    expect((refused as Error).message).toBe(`unexpected answer from server to GET ${path}: the answer is larger than 1048576 bytes`);
  });

  it('reads an answer within its bound', async () => {
    const answer = await request<{ pad: string }>(url, { path: '/chunked', maxResponseBytes: 4 * 1024 * 1024 });
    expect(answer.body.pad).toHaveLength(2 * 1024 * 1024);
  });
});
