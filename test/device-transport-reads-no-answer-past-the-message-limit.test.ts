import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { fetchPinnedInfrastructure, httpDeviceTransport } from '../adapters/client/device/index.ts';
import { ServerTimeout, UnexpectedResponse } from '../adapters/client/http.ts';
import { handlerServers } from './support/canned-server.ts';

// SER-001 (found in review): the device transport read answers up to the client's 64 MiB default and parsed them
// before any message limit applied; a 16 MiB `[[[[…` answer cost 7 s and half a gigabyte before it was refused as
// nested too deep. And it waited the client's default 30 s whatever the caller's timeout.

const serve = handlerServers();

const SIXTEEN_MIB = 16 * 1024 * 1024;

/** 16 MiB of JSON, `[[[…]]]`, sent in chunks with no Content-Length; `sent` counts the bytes sent before the client hung up. */
const nestedFlood = (sent: { bytes: number }) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  const open = Buffer.alloc(64 * 1024, '[');
  const close = Buffer.alloc(64 * 1024, ']');
  const more = (): void => {
    while (sent.bytes < SIXTEEN_MIB && !res.destroyed) {
      const chunk = sent.bytes < SIXTEEN_MIB / 2 ? open : close;
      sent.bytes += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', more);
    }
    res.end();
  };
  res.on('error', () => {});
  more();
};

describe('the device transport', () => {
  it('refuses an answer larger than any message of the device protocols as it reads it, before parsing it', async () => {
    const sent = { bytes: 0 };
    const url = await serve(nestedFlood(sent));
    const pinned = fetchPinnedInfrastructure(httpDeviceTransport(url));
    await expect(pinned).rejects.toBeInstanceOf(UnexpectedResponse);
    await expect(pinned).rejects.toThrow(/the answer is larger than \d+ bytes/);
    expect(sent.bytes).toBeLessThan(SIXTEEN_MIB);
  });

  it('refuses one whose Content-Length says it is larger, reading none of it', async () => {
    const url = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(`"${'a'.repeat(1024 * 1024)}"`));
    await expect(httpDeviceTransport(url).post('/v1/enrolment/hello', {})).rejects.toThrow(/the answer is larger than \d+ bytes/);
  });

  // The timeout that fired is the caller's: the error names it. Were it ignored, the client's 30 s default would run
  // past this test's 15 s limit (and name 30 s).
  it("waits for each answer no longer than the caller's timeout", async () => {
    const url = await serve(() => {});
    const answer = httpDeviceTransport(url, { timeoutMs: 300 }).get('/v1/enrolment');
    await expect(answer).rejects.toBeInstanceOf(ServerTimeout);
    await expect(answer).rejects.toMatchObject({ timeoutMs: 300, message: `no answer from ${url} within 0.3 s` });
  }, 15_000);
});
