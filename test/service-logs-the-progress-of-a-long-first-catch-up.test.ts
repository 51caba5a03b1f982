import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { withCatchUpProgress } from '../adapters/http/catch-up-progress.ts';

/*
 * Review 51: a rebuild after an upgrade reads the whole log before the API listens. A catch-up that lasts says at
 * info, every so often, where each component is, and when it ended; a short one says nothing.
 */

const logger = (lines: { fields: unknown; msg: string }[]): FastifyBaseLogger =>
  ({ info: (fields: unknown, msg?: string) => lines.push(typeof fields === 'string' ? { fields: undefined, msg: fields } : { fields, msg: msg! }) }) as unknown as FastifyBaseLogger;

describe('the first catch-up of the service', () => {
  it('says where each component is while it lasts, and when it is done', async () => {
    const lines: { fields: unknown; msg: string }[] = [];
    let audit = 10n;
    let finish: () => void = () => {};
    const catchUp = new Promise<void>((resolve) => (finish = resolve));
    const done = withCatchUpProgress(catchUp, {
      log: logger(lines),
      positions: () => [{ name: 'audit', position: audit }, { name: 'compliance', position: undefined }, { name: 'cascade', position: 500n }],
      head: async () => 500n,
      everyMs: 20,
    });
    await expect.poll(() => lines.length).toBeGreaterThanOrEqual(1);
    audit = 400n;
    await expect.poll(() => lines.some((l) => l.msg.includes('audit at position 400 of 500'))).toBe(true);
    finish();
    await done;
    expect(lines[0]!.msg).toMatch(/^catching up with the event store for \d+ s: the API answers once it is done; audit at position 10 of 500, compliance at position none of 500$/);
    expect(lines.at(-1)!.msg).toMatch(/^caught up with the event store in \d+ s$/);
  });

  it('says nothing of a catch-up shorter than its interval', async () => {
    const lines: { fields: unknown; msg: string }[] = [];
    await withCatchUpProgress(Promise.resolve(), { log: logger(lines), positions: () => [], head: async () => undefined, everyMs: 1_000 });
    expect(lines).toEqual([]);
  });
});
