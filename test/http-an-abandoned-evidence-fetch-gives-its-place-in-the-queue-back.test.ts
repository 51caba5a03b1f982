import { request as httpRequest, type ClientRequest } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventStore } from '../domain/ports/index.ts';
import { body, openApi, settled } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/**
 * Review 181, over HTTP: evidence fetches whose client went away (the console navigating on, a CLI stopped) held their
 * caller's two places in the evidence queue, so the caller's next fetch was refused 429 `busy` while the server built
 * bundles for nobody. Once the client's connection closes, its places are given back, and its waiting bundle is not
 * built.
 */
describe('an abandoned evidence fetch gives its place in the queue back', () => {
  let svc: TestService;
  beforeEach(async () => {
    svc = await startTestService();
    const api = await openApi(svc);
    for (const command of [body.createSubscription(), body.registerNode('meter-1')]) {
      expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: command })).status).toBe(201);
    }
    await settled(svc);
  });
  afterEach(async () => {
    await svc?.close();
  });

  /** A fetch of meter-1's bundle on its own connection: its answer's status, and the request to abandon it by. */
  const fetchEvidence = (): { status: Promise<number>; request: ClientRequest } => {
    const url = new URL('/v1/transparency/evidence/node/meter-1', svc.url);
    const request = httpRequest(url, { agent: false, headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    const status = new Promise<number>((resolve, reject) => {
      request.on('response', (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode!));
      });
      request.on('error', reject);
    });
    request.end();
    return { status, request };
  };

  it("gives back the places of the caller's abandoned fetches, running or waiting, and builds no bundle for the waiting one", async () => {
    // Bundles are built only once the gate opens: the whole-stream read of exportEvidence waits for it.
    const store = svc.service.context.credence.store as EventStore;
    const readStream = store.readStream.bind(store);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let built = 0;
    let buildStarted!: () => void;
    const started = new Promise<void>((resolve) => (buildStarted = resolve));
    store.readStream = async (streamId, options) => {
      if (options === undefined && streamId === 'node-meter-1') {
        built++;
        buildStarted();
        await gate;
      }
      return readStream(streamId, options);
    };

    const running = fetchEvidence();
    await started;
    const waiting = fetchEvidence();
    // Given both of the caller's places taken (its third fetch is busy), when the two are abandoned,
    let third = fetchEvidence();
    expect(await third.status).toBe(429);
    running.request.destroy();
    waiting.request.destroy();
    await Promise.allSettled([running.status, waiting.status]);

    // then the caller's next fetch is taken (once the server has seen the connections close), not refused busy.
    for (let tries = 0; tries < 40; tries++) {
      third = fetchEvidence();
      const status = await Promise.race([third.status, new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), 500))]);
      if (status === 'pending') break;
      expect(status).toBe(429);
    }
    open();
    expect(await third.status).toBe(200);
    // The abandoned running bundle was finished, the abandoned waiting one never started.
    expect(built).toBe(2);
  });
});
