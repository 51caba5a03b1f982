import { afterEach, describe, expect, it } from 'vitest';
import type { Credence } from '../adapters/runtime/index.ts';
import { provisionedUnder } from '../projections/compliance/index.ts';
import { at, cmd } from './support/fleet.ts';
import { establishInstance, meterUnderSub1, pagesFrom, pageUnderSub1, provisioned, twoHeldBackBetweenTwoOrdinary } from './support/held-back-provisionings.ts';

/*
 * Review 101: a provisioning held back until its node was known (an AE credential pre-provisioned before its
 * instance's first association) was written at its own, earlier position, behind a pager that had passed it, which
 * never saw it. Rows are listed, and paged, at the event that wrote them.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const fleet = async (): Promise<Credence> => {
  const c = (credence = await meterUnderSub1());
  await twoHeldBackBetweenTwoOrdinary(c);
  await c.settle();
  return c;
};

describe('a pager of `provisioned` gets a row held back until its node was known, once', () => {
  it('one that read every page before the association gets both held-back rows on paging on after it, and nothing again', async () => {
    const c = await fleet();
    expect(pagesFrom(c, 1)).toEqual([['cred-1'], ['cred-2']]);
    // The pager has read cred-2, provisioned after both held-back ones: it resumes after it (a whole answer names no nextAfter).
    const passed = provisionedUnder(c.readModels, 'sub-1').at(-1)!.position;

    await establishInstance(c);
    await provisioned(c, cmd.issueCredential('cred-3', 'meter-1', at(90)), 'cred-3');
    await c.settle();
    // Listed together by the establishment, after the position the pager passed; at limit=1 a page each (review 394:
    // they came as one page past `limit`), cut by credential id within their listing.
    expect(pagesFrom(c, 1, passed)).toEqual([['ra-ae-1'], ['ra-ae-2'], ['cred-3']]);
  });

  it('at any limit, a pager from the start reads every row once, in the order they were listed', async () => {
    const c = await fleet();
    await establishInstance(c);
    await provisioned(c, cmd.issueCredential('cred-3', 'meter-1', at(90)), 'cred-3');
    await c.settle();
    const listed = ['cred-1', 'cred-2', 'ra-ae-1', 'ra-ae-2', 'cred-3'];
    for (const limit of [1, 2, 3, 4, 5, 6]) expect(pagesFrom(c, limit).flat(), `limit ${limit}`).toEqual(listed);
    // A page ends at `limit`, among rows listed together too (review 394), and the next one goes on from its last row.
    expect(pagesFrom(c, 3)).toEqual([['cred-1', 'cred-2', 'ra-ae-1'], ['ra-ae-2', 'cred-3']]);
  });

  it('a cut page names the listed position and credential id of its last row as `nextAfter`', async () => {
    const c = await fleet();
    await establishInstance(c);
    await provisioned(c, cmd.issueCredential('cred-3', 'meter-1', at(90)), 'cred-3');
    await c.settle();
    const [, cred2, ae1, ae2] = provisionedUnder(c.readModels, 'sub-1');
    const { status_position: establishedAt } = c.readModels.prepare("SELECT status_position FROM compliance_associations WHERE association_id = 'sa-1'").get() as { status_position: bigint };
    // Each keeps the position of its own provisioning, and names the establishment that listed it.
    for (const row of [ae1!, ae2!]) {
      expect(row.listedPosition).toBe(establishedAt);
      expect(row.position < cred2!.position).toBe(true);
    }
    expect(cred2!.listedPosition).toBe(cred2!.position);
    expect(pageUnderSub1(c, 2).nextAfter).toBe(`${cred2!.position}:cred-2`);
    expect(pageUnderSub1(c, 1, `${cred2!.position}:cred-2`)).toMatchObject({ ids: ['ra-ae-1'], truncated: true, nextAfter: `${establishedAt}:ra-ae-1` });
    expect(pageUnderSub1(c, 1, `${establishedAt}:ra-ae-1`)).toMatchObject({ ids: ['ra-ae-2'], truncated: true, nextAfter: `${establishedAt}:ra-ae-2` });
    // A listed position alone (as cursors before review 394 were, a page never splitting a listing) goes on past its rows.
    expect(pageUnderSub1(c, 5, cred2!.position)).toMatchObject({ ids: ['ra-ae-1', 'ra-ae-2', 'cred-3'], truncated: false });
    expect(pageUnderSub1(c, 5, establishedAt)).toMatchObject({ ids: ['cred-3'], truncated: false });
  });

  it('the last rows of a listing that end the answer are a whole last page, not a cut one', async () => {
    const c = await fleet();
    await establishInstance(c);
    await c.settle();
    const [, cred2] = provisionedUnder(c.readModels, 'sub-1');
    // Review 107: it said more rows matched and sent the pager for an empty page.
    const last = pageUnderSub1(c, 2, `${cred2!.position}:cred-2`);
    expect(last).toMatchObject({ ids: ['ra-ae-1', 'ra-ae-2'], truncated: false });
    expect(last.nextAfter).toBeUndefined();
  });
});
