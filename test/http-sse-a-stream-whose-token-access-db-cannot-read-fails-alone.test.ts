import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SseEvent } from '../adapters/client/sse.ts';
import { startTestService, type TestService } from './support/service.ts';
import { openStream, type RawStream } from './http-sse.fixtures.ts';

// Review (F1): each stream re-checks its token from a timer (the heartbeat, the expiry) through
// AccessControl.remainingMs, one read of access.db. When that read threw (an I/O error, a damaged file, a busy
// timeout), the error was uncaught in the timer and the whole service exited; thrown as the stream started, it left
// the stream open with its slots held. Now the stream alone fails: `dropped: error` with a retry hint, slots free.

const HEARTBEAT_MS = 100;
const HANG_GUARD_MS = 5_000;
const within = <T>(promise: Promise<T>, what: string): Promise<T> =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), HANG_GUARD_MS).unref())]);

/** The stream ended as a failure: `event: dropped` {reason: error} and a retry hint to come back later. */
const expectErrorEnd = (s: RawStream): void => {
  const dropped = s.frames.filter((f): f is Extract<typeof f, { kind: 'event' }> => f.kind === 'event' && f.event === 'dropped');
  expect(dropped).toHaveLength(1);
  expect(JSON.parse((dropped[0] as SseEvent).data)).toEqual({ reason: 'error', retryMs: 5_000 });
  expect(s.frames.at(-1)).toMatchObject({ kind: 'retry', ms: 5_000 });
};

describe('an event stream whose token access.db cannot read', () => {
  let svc: TestService;
  const uncaught: unknown[] = [];
  const record = (error: unknown): void => void uncaught.push(error);
  beforeAll(async () => {
    process.on('uncaughtException', record);
    // One slot per principal: a stream that kept its slot would keep the next one out.
    svc = await startTestService({ config: { limits: { sseHeartbeatMs: HEARTBEAT_MS, maxSseStreamsPerPrincipal: 1 } } });
  }, 30_000);
  afterEach(() => {
    vi.restoreAllMocks();
  });
  afterAll(async () => {
    process.off('uncaughtException', record);
    await svc?.close();
  });

  /**
   * access.db cannot be read for `subject`'s token from its next lookup on, or after `readsFirst` more lookups (other
   * tests' streams, still ending, read on).
   */
  const unreadable = (subject: string, readsFirst = 0): void => {
    const access = svc.service.context.access;
    const read = access.remainingMs.bind(access);
    let reads = 0;
    vi.spyOn(access, 'remainingMs').mockImplementation((principal) => {
      if (principal.subject !== subject || reads++ < readsFirst) return read(principal);
      throw new Error('database disk image is malformed');
    });
  };

  const expectASlotFreeOnceItReads = async (token: string): Promise<void> => {
    vi.restoreAllMocks();
    const next = await openStream(svc.url, token, '/v1/events?from=end');
    try {
      expect(next.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 3 * HEARTBEAT_MS));
      expect(next.frames.some((f) => f.kind === 'event')).toBe(false);
    } finally {
      next.close();
      await next.ended;
    }
  };

  it('ends at the next heartbeat with dropped: error, not the service, and frees its slot', async () => {
    const issued = await svc.service.context.access.issue({ subject: 'sse-unreadable', role: 'auditor', ttlSeconds: 3600, issuedBy: 'test' });
    const s = await openStream(svc.url, issued.token, '/v1/events?from=end');
    try {
      expect(s.status).toBe(200);
      unreadable('sse-unreadable');
      await within(s.ended, 'the stream to end once access.db cannot be read');
      expectErrorEnd(s);
      expect(uncaught).toEqual([]);
      // The failure is in the log for whoever runs the service, and the token is not.
      const failed = svc.logs().filter((line) => line.includes('event stream failed'));
      expect(failed.some((line) => line.includes('database disk image is malformed'))).toBe(true);
      expect(svc.logs().some((line) => line.includes(issued.token))).toBe(false);
      await expectASlotFreeOnceItReads(issued.token);
    } finally {
      s.close();
    }
  });

  it('ends as it starts with dropped: error when access.db cannot be read then, and frees its slot', async () => {
    const issued = await svc.service.context.access.issue({ subject: 'sse-unreadable-at-start', role: 'auditor', ttlSeconds: 3600, issuedBy: 'test' });
    // The request's own check of the token (once its body is read) still reads; the stream's first one does not.
    unreadable('sse-unreadable-at-start', 1);
    const s = await openStream(svc.url, issued.token, '/v1/events?from=end');
    try {
      expect(s.status).toBe(200);
      await within(s.ended, 'the stream to end once access.db cannot be read');
      expectErrorEnd(s);
      expect(uncaught).toEqual([]);
      await expectASlotFreeOnceItReads(issued.token);
    } finally {
      s.close();
    }
  });
});
