import type { FastifyBaseLogger } from 'fastify';
import { expect, it } from 'vitest';
import { withCatchUpProgress } from '../adapters/http/catch-up-progress.ts';

/*
 * Review 52: a component none of whose event types is stored (the cascade on a log without its triggers) was said as
 * `cascade at position none of 200198` for the whole catch-up, which reads as not started.
 */

const logger = (lines: { fields: unknown; msg: string }[]): FastifyBaseLogger =>
  ({ info: (fields: unknown, msg?: string) => lines.push(typeof fields === 'string' ? { fields: undefined, msg: fields } : { fields, msg: msg! }) }) as unknown as FastifyBaseLogger;

it('says a component that has handled nothing and has nothing to read as having nothing to read yet', async () => {
  const lines: { fields: unknown; msg: string }[] = [];
  let finish: () => void = () => {};
  const done = withCatchUpProgress(new Promise<void>((resolve) => (finish = resolve)), {
    log: logger(lines),
    positions: () => [{ name: 'audit', position: 10n }, { name: 'cascade', position: undefined }, { name: 'compliance', position: undefined }],
    head: async () => 500n,
    nothingToRead: async (name) => name === 'cascade',
    everyMs: 20,
  });
  await expect.poll(() => lines.length).toBeGreaterThanOrEqual(1);
  finish();
  await done;
  expect(lines[0]!.msg).toMatch(
    /^catching up with the event store for \d+ s: the API answers once it is done; audit at position 10 of 500, cascade has nothing to read yet, compliance at position none of 500$/,
  );
  expect(lines[0]!.fields).toMatchObject({ components: [{ name: 'audit' }, { name: 'cascade', position: 'none', nothingToRead: true }, { name: 'compliance', position: 'none' }] });
});
