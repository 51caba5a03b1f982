import { describe, expect, it } from 'vitest';
import { EventStoreDbError } from '../adapters/driven/store/eventstoredb/driver.ts';
import type { RouteModule } from '../adapters/http/context.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 199: a read (GET) that failed because the event store was unavailable was told "a command sent may have been
 * stored, so retry it with the commandId it was sent with": advice for a command, meaningless for a read. A read is
 * told to send the read again after Retry-After; a command keeps the advice that makes its retry safe.
 */
const unavailable = (): EventStoreDbError =>
  new EventStoreDbError('EventStoreDB read failed: esdb-1.internal:2113 did not answer within 10 s', true, { unreachable: true, unavailable: { reason: 'timeout', limitMs: 10_000 } });

const failing: RouteModule = (app) => {
  app.get('/test/read', { config: { access: 'public' } }, async () => {
    throw unavailable();
  });
  app.post('/test/command', { config: { access: 'public' } }, async () => {
    throw unavailable();
  });
};

const svc = useTestService({ routes: [failing] });

describe('a 503 store_unavailable', () => {
  it('tells a read to send the read again after Retry-After, and says nothing of a command or its id', async () => {
    const answer = await fetch(`${svc.url}/test/read`);
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('5');
    const { detail, reason } = (await answer.json()) as { detail: string; reason: string };
    expect(reason).toBe('timeout');
    expect(detail).toContain('did not answer within its time limit of 10000 ms');
    expect(detail).toMatch(/send the read again after Retry-After/);
    expect(detail).not.toMatch(/command/i);
    expect(detail).not.toContain('esdb-1.internal');
  });

  it('tells a command to retry with the commandId it was sent with', async () => {
    const answer = await fetch(`${svc.url}/test/command`, { method: 'POST' });
    expect(answer.status).toBe(503);
    const { detail } = (await answer.json()) as { detail: string };
    expect(detail).toContain('retry it with the commandId it was sent with');
  });
});
