import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import type { RecordedEvent } from '../domain/ports/event-store.ts';
import { settled } from './http-sse.fixtures.ts';
import { capture } from './support/cli.ts';
import { cmd } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 310, finding 1: `credence events --from end` said `events after @1~…, the last one stored when the stream
 * opened` on a log whose newest event was at 2. An operator's or auditor's stream from the end starts after the newest
 * event the token may read (adapters/http/sse/told-start.ts); a node's registration is followed by a PseudonymRotated
 * these roles are not shown, so that start is very often not the last event stored. The note says what is true.
 */

let svc: TestService;

beforeAll(async () => {
  svc = await startTestService();
  await svc.service.context.credence.engine.execute(cmd.registerNode('meter-from-end'));
  await settled(svc);
}, 60_000);
afterAll(async () => {
  await svc?.close();
});

const readAll = async (): Promise<RecordedEvent[]> => {
  const all: RecordedEvent[] = [];
  for await (const e of svc.service.context.credence.store.readAll()) all.push(e);
  return all;
};

describe('credence events --from end, the log ending with a rotation the token is not shown', () => {
  it.each(['operator', 'auditor'] as const)("the %s's note names its start as the newest event it may read, not the last one stored", async (role) => {
    // The log: NodeRegistered at 1, PseudonymRotated at 2 (then, after the first case, the next node's two).
    const all = await readAll();
    expect(all.at(-1)!.type).toBe('PseudonymRotated');
    const registration = all.filter((e) => e.type === 'NodeRegistered').at(-1)!;
    expect(registration.position).toBe(all.at(-1)!.position - 1n);

    // A new event once the note is out ends the run (--limit 1).
    const c = capture();
    const run = main(['events', '--server', svc.url, '--token', svc.tokens[role], '--from', 'end', '--limit', '1'], { ...c.io, env: {} });
    const end = Date.now() + 20_000;
    while (!c.err.some((line) => line.startsWith('note: following from the end'))) {
      if (Date.now() > end) throw new Error(`no note of where the stream starts: ${c.err.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await svc.service.context.credence.engine.execute(cmd.registerNode(`meter-after-${role}`));
    expect(await run, c.err.join('\n')).toBe(0);
    await settled(svc);

    const note = c.err.find((line) => line.startsWith('note: following from the end'))!;
    const startId = new RegExp(`^note: following from the end: events after @(${registration.position}~[0-9a-f]{8})[,;]`).exec(note)?.[1];
    expect(startId, note).toBeDefined();
    // Not "the last one stored": the rotation was stored after it.
    expect(note).not.toMatch(/last one stored|the head/);
    expect(note).toBe(
      `note: following from the end: events after @${startId}, past which the log held no event this token may read when the stream opened (--from start for the whole history)`,
    );
  });
});
