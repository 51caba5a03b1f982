import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

// `credence events` prints what a server sent: its NDJSON stays one object per line and parses to what was sent, and
// nothing in an event reaches the terminal as a control character (bin/printable.ts).

const C1 = '\u009b';
let frames = '';
let server: Server;
let url = '';
beforeAll(async () => {
  server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.write(frames);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const events = (...argv: string[]) => runCli(['events', '--server', url, '--token', 't', '--limit', '1', ...argv]);

describe('credence events output', () => {
  it('keeps an event whose data spans lines one NDJSON line, parsing to the same object', async () => {
    frames = `id: 7\nevent: NodeRevoked\ndata: {"position":"7","type":"NodeRevoked",\ndata:  "streamId":"node-${C1}x"}\n\n`;
    const r = await events('--json');
    expect(r.code, r.err).toBe(0);
    expect(r.out.split('\n')).toHaveLength(1);
    expect(r.out).not.toContain(C1);
    // With the event's id as the stream sent it (review 206).
    expect(JSON.parse(r.out)).toEqual({ id: '7', position: '7', type: 'NodeRevoked', streamId: `node-${C1}x` });
  });

  it('shows a control character in a human line escaped', async () => {
    frames = `id: 7\nevent: NodeRevoked\ndata: {"position":"7","type":"NodeRevoked","streamId":"node-\\u001b[2Kx","metadata":{"occurredAt":"2026-01-01T00:00:00Z"}}\n\n`;
    const r = await events();
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('@7 2026-01-01T00:00:00Z NodeRevoked                    node-\\u001b[2Kx');
  });

  it('refuses an event that carries no JSON object (exit 1, naming its position)', async () => {
    frames = 'id: 7\nevent: NodeRevoked\ndata: not json\n\n';
    for (const argv of [[], ['--json']]) {
      const r = await events(...argv);
      expect([r.code, r.out, r.err]).toEqual([1, '', 'error: unexpected answer from server to GET /v1/events: the event at 7 carries no JSON object']);
    }
  });
});
