import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { useTestService, type TestService } from './support/service.ts';

/*
 * Review 289. `credence events --from end` whose stream ended (its token revoked) before any event was printed said
 * `(the last event printed: @8~39d88fb8)`, though nothing was printed: the id is where the stream started. It is still
 * the point to resume from, said as that. And on an empty log, --from end said `events after @0, the last one stored
 * when the stream opened`, though none was stored.
 */

type Run = { code: number; out: string[]; err: string[] };

/** `credence <argv>` in this process, with what it prints readable while it runs. */
const start = (argv: string[]): { readonly done: Promise<Run>; readonly out: string[]; readonly err: string[] } => {
  const c = capture();
  const done = main(argv, { ...c.io, env: {} }).then((code) => ({ code, out: c.out, err: c.err }));
  return { done, out: c.out, err: c.err };
};

const until = async (check: () => boolean, what: string, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

const FROM_END = 'note: following from the end';

/** `credence events --from end` under a token of its own, revoked once the stream has said where it starts. */
const revokedBeforeAnEvent = async (svc: TestService, subject: string): Promise<Run> => {
  const issued = await svc.service.context.access.issue({ subject, role: 'auditor', ttlSeconds: 3600, issuedBy: 'test' });
  const run = start(['events', '--server', svc.url, '--token', issued.token, '--from', 'end', '--kind', 'node']);
  await until(() => run.err.some((line) => line.startsWith(FROM_END)), 'the note of where the stream starts');
  svc.service.context.access.revoke(issued.tokenId, 'test');
  const r = await run.done;
  expect(r.code).toBe(1);
  expect(r.out).toEqual([]);
  return r;
};

describe('credence events says where its stream started when it printed no event', () => {
  const svc = useTestService();

  it('on an empty log, --from end says the log was empty, not that an event was stored', async () => {
    expect((await svc.service.context.credence.store.headPosition()) ?? 0n).toBe(0n);
    const r = await revokedBeforeAnEvent(svc, 'events-empty-log');
    expect(r.err[0]).toBe(`${FROM_END}: the log was empty when the stream opened (--from start for the whole history)`);
    expect(r.err[1]).toBe(
      "note: the server ended the stream: the token was revoked or has expired before it sent an event (the stream's start: @0); resume with --from and a new token",
    );
    expect(r.err.join('\n')).not.toMatch(/last event printed|the last one stored/);
  });

  it("a stream ended before its first event names the stream's start, not an event printed", async () => {
    const created = await start([
      'subscription', 'create', 'city-start', '--subscriber', 'City', '--not-before', '2020-01-01T00:00:00Z', '--not-after', '2040-01-01T00:00:00Z',
      '--server', svc.url, '--token', svc.tokens.operator,
    ]).done;
    expect(created.code, created.err.join('\n')).toBe(0);
    const r = await revokedBeforeAnEvent(svc, 'events-nothing-printed');
    const startId = /^note: following from the end: events after @(\d+~[0-9a-f]{8}), past which the log held no event this token may read when the stream opened/.exec(r.err[0]!)?.[1];
    expect(startId, r.err[0]).toBeDefined();
    expect(r.err[1]).toBe(
      `note: the server ended the stream: the token was revoked or has expired before it sent an event (the stream's start: @${startId}); resume with --from and a new token`,
    );
    expect(r.err.join('\n')).not.toMatch(/last event printed/);
  });
});
