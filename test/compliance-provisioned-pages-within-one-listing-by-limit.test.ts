import { afterEach, describe, expect, it } from 'vitest';
import type { Credence } from '../adapters/runtime/index.ts';
import { answerQuery, COMPLIANCE_QUERIES, MAX_ROWS, type ProvisionedRow } from '../projections/compliance/index.ts';
import { configureAeInstance } from './support/credential-holders.ts';
import { at, cmd, T0 } from './support/fleet.ts';
import { aeCredential, meterUnderSub1, provisioned } from './support/held-back-provisionings.ts';

/*
 * Review 394 (SER-001): rows one event listed together (AE credentials provisioned before their instance's first
 * association, all listed by it) came as one page past `limit` and past the 10,000-row maximum: limit=1 answered
 * 10,006 rows, truncated:false. A page is now cut at `limit` inside a listing too, by the key the rows are sorted by,
 * (listedPosition, credentialId), its cursor `<listedPosition>:<credentialId>`.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const HELD_BACK = Array.from({ length: 25 }, (_, n) => `ra-ae-${String(n + 1).padStart(2, '0')}`);

/** cred-0, then 25 AE credentials held back (provisioned out of id order) until sa-1 lists them all, then cred-z. */
const fleet = async (): Promise<{ c: Credence; listedAt: bigint }> => {
  const c = (credence = await meterUnderSub1());
  await provisioned(c, cmd.issueCredential('cred-0', 'meter-1', at(90)), 'cred-0');
  for (const id of [...HELD_BACK].reverse()) await provisioned(c, aeCredential(id), id);
  await c.engine.execute(configureAeInstance('sa-1', HELD_BACK[0]!, 'meter-1'));
  await c.engine.execute(cmd.establishAssociation('sa-1'));
  await provisioned(c, cmd.issueCredential('cred-z', 'meter-1', at(90)), 'cred-z');
  await c.settle();
  const { status_position: listedAt } = c.readModels.prepare("SELECT status_position FROM compliance_associations WHERE association_id = 'sa-1'").get() as { status_position: bigint };
  return { c, listedAt };
};

/** One page, its parameters as a client sends them (text, parsed by the query's own schema). */
const page = (c: Credence, limit: number, after?: string) => {
  const params = COMPLIANCE_QUERIES.provisioned.params.parse({ subscription: 'sub-1', limit: String(limit), ...(after !== undefined ? { after } : {}) });
  const answer = answerQuery('provisioned', c.readModels, params, new Date(T0));
  return { rows: answer.rows as readonly ProvisionedRow[], truncated: answer.truncated, nextAfter: answer.nextAfter };
};

const pages = (c: Credence, limit: number, after?: string) => {
  const out: { ids: string[]; truncated: boolean; nextAfter: unknown }[] = [];
  let cursor = after;
  for (let i = 0; i < 100; i++) {
    const p = page(c, limit, cursor);
    out.push({ ids: p.rows.map((r) => r.credentialId), truncated: p.truncated, nextAfter: p.nextAfter });
    if (!p.truncated) return out;
    cursor = String(p.nextAfter);
  }
  throw new Error('never ended');
};

describe('`provisioned` pages at `limit` within rows one event listed together', () => {
  it('25 rows of one listing at limit=10: pages of at most 10, no row repeated or skipped, the cursor the last row\'s key', async () => {
    const { c, listedAt } = await fleet();
    const read = pages(c, 10);
    expect(read.map((p) => p.ids.length)).toEqual([10, 10, 7]);
    expect(read.flatMap((p) => p.ids)).toEqual(['cred-0', ...HELD_BACK, 'cred-z']);
    expect(read.map((p) => [p.truncated, p.nextAfter])).toEqual([
      [true, `${listedAt}:ra-ae-09`],
      [true, `${listedAt}:ra-ae-19`],
      [false, undefined],
    ]);
  });

  it('at any limit, never more than `limit` rows a page, every row once in the order listed', async () => {
    const { c } = await fleet();
    for (const limit of [1, 2, 3, 7, 25, 26, 27, 28]) {
      const read = pages(c, limit);
      expect(read.every((p) => p.ids.length <= limit), `limit ${limit}`).toBe(true);
      expect(read.flatMap((p) => p.ids), `limit ${limit}`).toEqual(['cred-0', ...HELD_BACK, 'cred-z']);
    }
    // 27 rows at limit=27: a whole answer, not a cut one sending the pager for an empty page.
    expect(pages(c, 27)).toEqual([{ ids: ['cred-0', ...HELD_BACK, 'cred-z'], truncated: false, nextAfter: undefined }]);
  });

  it('limit=1 answers one row, cut, even at the start of the listing', async () => {
    const { c, listedAt } = await fleet();
    const first = page(c, 1);
    const second = page(c, 1, String(first.nextAfter));
    expect(second.rows.map((r) => r.credentialId)).toEqual(['ra-ae-01']);
    expect([second.truncated, second.nextAfter]).toEqual([true, `${listedAt}:ra-ae-01`]);
    expect(MAX_ROWS).toBe(10_000);
  });

  it('a bare position (as cursors before this one were) still pages: the rows listed after every row listed at it', async () => {
    const { c, listedAt } = await fleet();
    const cred0 = page(c, 1).rows[0]!;
    expect(pages(c, 10, String(cred0.listedPosition)).flatMap((p) => p.ids)).toEqual([...HELD_BACK, 'cred-z']);
    // A cursor handed out before (the listing's position, its rows all on the page before) goes on past them.
    expect(pages(c, 10, String(listedAt)).flatMap((p) => p.ids)).toEqual(['cred-z']);
  });
});
