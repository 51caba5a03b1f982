import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { RouteModule } from '../adapters/http/context.ts';
import { useTestService } from './support/service.ts';

// Review 242 F2: an answer written whole to a client that does not read stays in the process's memory (4.4 MB each
// for `compliance/actions?limit=10000`; 256 connections from one address held ~1.1 GB). The service counts the bytes
// of answers handed to sockets and not yet taken, and past `limits.maxUnsentAnswerBytes` tells new requests `503`
// (probes and event streams excepted) until clients take them or go.

const MIB = 1024 * 1024;
// Larger than what the kernel's socket buffers on both sides take from a client that reads nothing (a few MiB on
// loopback), so each answer stays with the process until its client reads or goes.
const ANSWER_BYTES = 12 * MIB;
// One such answer unread is within the bound, two are past it: the bound is on all answers together.
const BOUND = 16 * MIB;

const big: RouteModule = (app) => {
  app.get('/test/big', { config: { access: 'public' } }, async () => ({ pad: 'x'.repeat(ANSWER_BYTES) }));
  app.get('/test/small', { config: { access: 'public' } }, async () => ({ ok: true }));
  // Answered after its client may have gone (as a device hello waits out its floor, or a long query its read).
  app.get('/test/big-later', { config: { access: 'public' } }, async () => {
    await sleep(400);
    return { pad: 'x'.repeat(ANSWER_BYTES) };
  });
};

/** A raw socket that asks for `path` and hangs up `afterMs` later, before its answer comes. */
const askAndHangUp = (url: string, path: string, afterMs: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`, () => setTimeout(() => (socket.destroy(), resolve()), afterMs));
    });
    socket.on('error', reject);
  });

/** A raw socket that asks for the big answer and reads none of it (reading paused before any byte arrives). */
const askAndReadNothing = (url: string): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.pause();
      socket.write(`GET /test/big HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`, () => resolve(socket));
    });
    socket.on('error', reject);
  });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Asks until the answer has the status wanted, for at most `tries` x 100 ms; returns the last answer. */
const askUntil = async (url: string, status: number, tries = 50): Promise<Response> => {
  let response = await fetch(url);
  for (let i = 1; i < tries && response.status !== status; i++) {
    await response.arrayBuffer();
    await sleep(100);
    response = await fetch(url);
  }
  return response;
};

describe('answers clients do not take are bounded: past the bound new requests are told busy', () => {
  const svc = useTestService({ routes: [big], config: { limits: { maxUnsentAnswerBytes: BOUND, retryAfterSeconds: 3 } } });
  const sockets: Socket[] = [];
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
  });

  it('serves while the answers not taken are within the bound, refuses 503 with Retry-After past it, and serves again once their clients go', async () => {
    // Given one client that reads none of its 12 MiB answer: 12 MiB not taken, within the 16 MiB bound.
    sockets.push(await askAndReadNothing(svc.url));
    const within = await askUntil(`${svc.url}/test/small`, 200);
    expect(within.status).toBe(200);

    // When a second does the same: 24 MiB not taken, past the bound (its own answer was let through).
    sockets.push(await askAndReadNothing(svc.url));
    // Then a new request is refused before any work, saying why and when to come back.
    const refused = await askUntil(`${svc.url}/test/small`, 503);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.headers.get('retry-after')).toBe('3');
    expect(await refused.json()).toMatchObject({ type: 'https://credence.dev/problems/overloaded', status: 503, reason: 'unsent_answers' });
    // And the probes still answer, so an orchestrator sees a busy service, not a dead one.
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${svc.url}/metrics`)).status).toBe(200);
    // An OCSP client, which reads OCSPResponses only, is told `tryLater` (HTTP 200) with the same Retry-After.
    const ocsp = await fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: new Uint8Array([0x30, 0]) });
    expect(ocsp.status).toBe(200);
    expect(ocsp.headers.get('content-type')).toBe('application/ocsp-response');
    expect(ocsp.headers.get('retry-after')).toBe('3');
    await ocsp.arrayBuffer();

    // When the clients go, what was held for them is let go, and requests are served again.
    for (const socket of sockets.splice(0)) socket.destroy();
    const again = await askUntil(`${svc.url}/test/small`, 200);
    expect(again.status).toBe(200);
  }, 30_000);

  it('lets go of answers waiting behind another on a connection whose client hung up (review 246: pipelined, they were counted for good)', async () => {
    // One connection: a slow answer first, then two big ones pipelined behind it, the client gone before the first.
    await new Promise<void>((resolve, reject) => {
      const { hostname, port } = new URL(svc.url);
      const socket = connect({ host: hostname, port: Number(port) }, () => {
        const ask = (path: string) => `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`;
        socket.write(ask('/test/big-later') + ask('/test/big') + ask('/test/big'), () => setTimeout(() => (socket.destroy(), resolve()), 100));
      });
      socket.on('error', reject);
    });
    await sleep(1_200);
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`${svc.url}/test/small`);
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
  }, 30_000);

  it('counts nothing for an answer whose client hung up before it was sent (review 244: it was counted for good)', async () => {
    // Two clients gone before their 12 MiB answers: had either been counted, the two would be past the bound for good.
    await askAndHangUp(svc.url, '/test/big-later', 50);
    await askAndHangUp(svc.url, '/test/big-later', 50);
    await sleep(800);
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`${svc.url}/test/small`);
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
  }, 30_000);
});
