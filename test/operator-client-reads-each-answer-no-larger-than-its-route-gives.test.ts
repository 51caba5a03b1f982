import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ServerTimeout, UnexpectedResponse } from '../adapters/client/http.ts';
import { MAX_ENTITY_BYTES, MAX_ONE_ANSWER_BYTES, operatorClient } from '../adapters/client/operator.ts';
import { handlerServers } from './support/canned-server.ts';

// Found in review 126: the operator client read every answer up to the client's 64 MiB default, so a server (or
// anything on the path) answering `device init`'s entity check or a command with 64 MiB of `[[],[],…]` held it and
// parsed it: 19-33 s and 1.4 GB of heap past `--timeout 5`. An entity or its state is now read up to MAX_ENTITY_BYTES,
// a command outcome up to MAX_ONE_ANSWER_BYTES plus what it sent, and refused as it is read, naming the request and
// the bound.

const serve = handlerServers();

const SIXTEEN_MIB = 16 * 1024 * 1024;

/** 16 MiB of `[[],[],…]` in chunks with no Content-Length; `sent` counts what went out before the client hung up. */
const flood = (sent: { bytes: number; whole: boolean }) => (req: IncomingMessage, res: ServerResponse) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.from('[],'.repeat(64 * 1024));
  res.on('error', () => {});
  res.write('[');
  const more = (): void => {
    while (sent.bytes < SIXTEEN_MIB && !res.destroyed) {
      sent.bytes += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', more);
    }
    if (res.destroyed) return;
    sent.whole = true;
    res.end('[]]');
  };
  more();
};

describe('the operator client', () => {
  it.each([
    ["a device command's entity read", (url: string) => operatorClient(url, 't').entity('node', 'meter-1', MAX_ENTITY_BYTES), 'GET /v1/entities/node/meter-1', MAX_ENTITY_BYTES],
    ['a command', (url: string) => operatorClient(url, 't').command({ type: 'registerNode', data: {} }), 'POST /v1/commands', MAX_ONE_ANSWER_BYTES],
  ])('refuses %s answered larger than its bound as it reads it, and stops reading', async (_what, call, what, max) => {
    const sent = { bytes: 0, whole: false };
    const url = await serve(flood(sent));
    const refused = await call(url).then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(UnexpectedResponse);
    expect((refused as Error).message).toMatch(new RegExp(`^unexpected answer from server to ${what}: the answer is larger than (\\d+) bytes$`));
    const bound = Number(/larger than (\d+) bytes/.exec((refused as Error).message)![1]);
    expect(bound).toBeGreaterThanOrEqual(max);
    expect(bound).toBeLessThan(max + 64 * 1024);
    // The client hung up: the server never got to send the whole answer.
    expect(sent.whole).toBe(false);
    expect(sent.bytes).toBeLessThan(SIXTEEN_MIB);
  }, 30_000);

  it('refuses one whose Content-Length says it is larger, reading none of it', async () => {
    const url = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 * MAX_ENTITY_BYTES }).write('{'));
    await expect(operatorClient(url, 't').entity('credential', 'c-1', MAX_ENTITY_BYTES)).rejects.toThrow(
      `unexpected answer from server to GET /v1/entities/credential/c-1: the answer is larger than ${MAX_ENTITY_BYTES} bytes`,
    );
  });

  it('reads an entity within its bound: one whose context lists 10,000 associations of long ids', async () => {
    const url = await serve((_req, res) =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ streamId: 'node-meter-1', kind: 'node', id: 'meter-1', state: 'registered', revision: '0', position: '3', context: { liveAssociations: Array.from({ length: 10_000 }, (_, i) => `${'a'.repeat(250)}${i}`) } })),
    );
    await expect(operatorClient(url, 't').entity('node', 'meter-1', MAX_ENTITY_BYTES)).resolves.toMatchObject({ id: 'meter-1', state: 'registered' });
  });

  // The timeout covers the body too: a server that sends its headers and then trickles is as good as unreachable.
  it("gives up on a body still arriving at the caller's timeout", async () => {
    const url = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).write('{"streamId":'));
    const answer = operatorClient(url, 't', { timeoutMs: 300 }).entity('node', 'meter-1');
    await expect(answer).rejects.toBeInstanceOf(ServerTimeout);
    await expect(answer).rejects.toMatchObject({ timeoutMs: 300 });
  }, 15_000);

  it("reads an entity past the device commands' bound where its reader gave none (review 129: limits.maxEntityEvents raised)", async () => {
    const associations = Array.from({ length: 30_000 }, (_, i) => ({ associationId: `a-${i}-${'x'.repeat(120)}`, aeId: `C-${i}-${'y'.repeat(120)}` }));
    const entity = { streamId: 'application-app-1', kind: 'application', id: 'app-1', state: 'enrolled', revision: '30001', position: '60002', context: { liveInstances: associations } };
    const url = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(entity)));
    expect(JSON.stringify(entity).length).toBeGreaterThan(MAX_ENTITY_BYTES);
    await expect(operatorClient(url, 't').entity('application', 'app-1')).resolves.toMatchObject({ kind: 'application', id: 'app-1' });
  }, 30_000);
});
