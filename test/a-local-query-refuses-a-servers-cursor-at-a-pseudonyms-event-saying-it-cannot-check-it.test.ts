import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { main } from '../bin/cli.ts';
import { settled } from './http-conformance.fixtures.ts';
import { capture } from './support/cli.ts';
import { T0 } from './support/fleet.ts';
import { ROTATIONS, serviceWithMetersRotatingHourly } from './support/hourly-pseudonym-rotations.ts';
import type { TestService } from './support/service.ts';

/*
 * Review 211 finding 4: a server tags a compliance cursor at a pseudonym's event with the pseudonymised stream's keyed
 * tag (review 208), which `credence query --data` cannot check: it has no pseudonym key at hand. It checked the plain
 * tag, which a keyed tag never matches, and refused the server's own cursor as "a cursor of another log". It is now
 * refused saying what it is, and what pages after it (--server, or the local pages from the start); never taken
 * unchecked, since the keyed check is what keeps a guessed tag from being confirmed.
 */
const METERS = ['meter-a', 'meter-b', 'meter-c'];

const cli = async (argv: string[]) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env: {} });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

interface Answer {
  readonly rows: { readonly position: string }[];
  readonly truncated: boolean;
  readonly nextAfter?: string;
}

describe("credence query --data and a server's cursor at a pseudonym's event", () => {
  let svc: TestService;
  const actions = (...argv: string[]) => cli(['query', 'actions', '--actor', ROTATIONS, '--limit', '1', '--json', ...argv]);
  const server = (): string[] => ['--server', svc.url, '--token', svc.tokens.admin];
  const local = (): string[] => ['--data', svc.dir];

  beforeAll(async () => {
    svc = await serviceWithMetersRotatingHourly(new FakeClock(T0), METERS);
    await settled(svc);
  }, 90_000);
  afterAll(() => svc?.close());

  it('is refused (exit 2), saying its event is a pseudonym\'s, whose keyed tag it cannot check, and what pages after it; --server pages after it', async () => {
    const first = await actions(...server());
    expect(first.code, first.err).toBe(0);
    const cursor = (JSON.parse(first.out) as Answer).nextAfter!;
    expect(cursor).toMatch(/^\d+~[0-9a-f]{8}\.[0-9a-f]{8}$/);

    const refused = await actions('--after', cursor, ...local());
    expect(refused.code, refused.err).toBe(2);
    expect(refused.out).toBe('');
    expect(refused.err).toContain("--after: the event at position ");
    expect(refused.err).toContain("of this log is a pseudonym's, where a server keys a cursor's tag under its pseudonym key");
    expect(refused.err).toContain('--server');
    expect(refused.err).toContain('page again from the start');
    expect(refused.err).not.toContain('is not the one that cursor was given for');

    const paged = await actions('--after', cursor, ...server());
    expect(paged.code, paged.err).toBe(0);
    // The next page, past the cursor: its rotation's row is told only to an auditor who resolved that pseudonym
    // (review 251), so an admin gets the page cut there, without the row, and pages on.
    const next = JSON.parse(paged.out) as Answer;
    expect(next.rows).toEqual([]);
    expect(next.truncated).toBe(true);
    expect(next.nextAfter).toMatch(/^\d+~[0-9a-f]{8}\.[0-9a-f]{8}$/);
    expect(Number(next.nextAfter!.split('~')[0])).toBeGreaterThan(Number(cursor.split('~')[0]));
  });

  it('is not taken unchecked: any tag at a pseudonym\'s event is refused so, the right one and a guess alike', async () => {
    const first = await actions(...server());
    const [position, tag] = (JSON.parse(first.out) as Answer).nextAfter!.split('~') as [string, string];
    const guess = `${position}~${tag === '00000000' ? '00000001' : '00000000'}`;
    const [right, guessed] = [await actions('--after', `${position}~${tag}`, ...local()), await actions('--after', guess, ...local())];
    expect([right.code, guessed.code]).toEqual([2, 2]);
    expect(guessed.err.replace(guess, 'CURSOR')).toBe(right.err.replace(`${position}~${tag}`, 'CURSOR'));
  });

  it('pages locally from the start with the cursors it hands out itself (bare at a pseudonym\'s event), every row once', async () => {
    const whole = await cli(['query', 'actions', '--actor', ROTATIONS, '--json', ...local()]);
    expect(whole.code, whole.err).toBe(0);
    const all = (JSON.parse(whole.out) as Answer).rows.map((r) => r.position);
    expect(all).toHaveLength(METERS.length);
    const seen: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await actions(...(after !== undefined ? ['--after', after] : []), ...local());
      expect(page.code, page.err).toBe(0);
      const answer = JSON.parse(page.out) as Answer;
      seen.push(...answer.rows.map((r) => r.position));
      if (!answer.truncated) break;
      expect(answer.nextAfter).toMatch(/^\d+\.[0-9a-f]{8}$/);
      after = answer.nextAfter;
    }
    expect(seen).toEqual(all);
  });
});
