import { FakeClock } from '../../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../../adapters/runtime/index.ts';
import { answerQuery, COMPLIANCE_QUERIES, type ProvisionedRow } from '../../projections/compliance/index.ts';
import { configureAeInstance, enrolledApplication } from './credential-holders.ts';
import { at, cmd, T0 } from './fleet.ts';

/*
 * Provisionings the compliance read model holds back until their node is known (review 48) beside ordinary ones, for
 * the tests of how the `provisioned` query lists them (review 101).
 */

/** A credential of the AE Cx, an instance of App-ID RA: its node is known once an association of the instance is established. */
export const aeCredential = (credentialId: string) => cmd.issueCredential(credentialId, 'meter-1', at(300), { owner: { kind: 'ae', id: 'Cx', appId: 'RA' } });

export const provisioned = async (c: Credence, issue: unknown, credentialId: string): Promise<void> => {
  await c.engine.execute(issue);
  await c.engine.execute(cmd.provisionCredential(credentialId));
};

/** meter-1 enrolled under sub-1 and RA enrolled, on a fresh in-memory Credence. */
export const meterUnderSub1 = async (): Promise<Credence> => {
  const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await c.engine.execute(x);
  await enrolledApplication(c.engine, 'RA');
  return c;
};

/** ra-ae-1 and ra-ae-2 provisioned between cred-1 and cred-2, held back until sa-1 establishes their instance on meter-1. */
export const twoHeldBackBetweenTwoOrdinary = async (c: Credence): Promise<void> => {
  await provisioned(c, cmd.issueCredential('cred-1', 'meter-1', at(90)), 'cred-1');
  await provisioned(c, aeCredential('ra-ae-2'), 'ra-ae-2');
  await provisioned(c, aeCredential('ra-ae-1'), 'ra-ae-1');
  await provisioned(c, cmd.issueCredential('cred-2', 'meter-1', at(90)), 'cred-2');
};

export const establishInstance = async (c: Credence): Promise<void> => {
  await c.engine.execute(configureAeInstance('sa-1', 'ra-ae-1', 'meter-1'));
  await c.engine.execute(cmd.establishAssociation('sa-1'));
};

/**
 * One page of `provisioned` under sub-1, its parameters as a client sends them (parsed by the query's schema): `after`
 * a cursor as the page before named it (`<listedPosition>:<credentialId>`, review 394) or a listed position.
 */
export const pageUnderSub1 = (c: Credence, limit: number, after?: string | bigint) => {
  const params = COMPLIANCE_QUERIES.provisioned.params.parse({ subscription: 'sub-1', limit: String(limit), ...(after !== undefined ? { after: String(after) } : {}) });
  const answer = answerQuery('provisioned', c.readModels, params, new Date(T0));
  const rows = answer.rows as readonly ProvisionedRow[];
  return { ids: rows.map((r) => r.credentialId), truncated: answer.truncated, nextAfter: answer.nextAfter as string | undefined };
};

/** Every page from `after` on, as a pager reads them: the ids of each. */
export const pagesFrom = (c: Credence, limit: number, after?: string | bigint): string[][] => {
  const pages: string[][] = [];
  let cursor = after;
  for (;;) {
    const page = pageUnderSub1(c, limit, cursor);
    if (page.ids.length > 0) pages.push(page.ids);
    if (!page.truncated) return pages;
    cursor = page.nextAfter;
  }
};
