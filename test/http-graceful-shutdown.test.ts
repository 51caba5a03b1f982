import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteModule } from '../adapters/http/context.ts';
import { startTestService, type TestService } from './support/service.ts';

let arrived: () => void = () => {};

const slowAndStreaming: RouteModule = (app, context) => {
  // A request still in flight when shutdown begins: it must complete.
  app.get('/test/slow', { config: { access: 'public' } }, async () => {
    arrived();
    await new Promise((r) => setTimeout(r, 400));
    return { done: true };
  });
  // A long-lived response, like the SSE stream: it ends with a retry hint when shutdown begins.
  app.get('/test/stream', { config: { access: 'public' } }, async (_request, reply) => {
    const stream = new Readable({ read() {} });
    stream.push(': open\n\n');
    context.shutdown.addEventListener('abort', () => {
      stream.push('retry: 1000\n\n');
      stream.push(null);
    });
    return reply.type('text/event-stream').send(stream);
  });
};

describe('graceful shutdown', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ routes: [slowAndStreaming] });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('finishes the request in flight, ends long-lived streams with a retry hint, then refuses connections', async () => {
    const url = svc.url;
    const streamed = fetch(`${url}/test/stream`).then((r) => r.text());
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    const slow = fetch(`${url}/test/slow`);
    await inFlight;
    const signal = svc.service.context.shutdown;
    const closing = svc.service.close();

    const response = await slow;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ done: true });
    expect(await streamed).toContain('retry: 1000');
    await closing;
    expect(signal.aborted).toBe(true);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
