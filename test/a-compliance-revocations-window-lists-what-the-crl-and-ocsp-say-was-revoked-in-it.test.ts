import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { auditTrail } from '../projections/audit/index.ts';
import { complianceProjection, revocations } from '../projections/compliance/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { operator } from './support/fleet.ts';
import { crlInvalidityDate, ocspAnswer, ocspInvalidityDate } from './support/invalidity-dates.ts';
import type { TestLeaf } from './support/pki-test-ca.ts';
import { crlListing, useRestartedAfterALapse, useRotationHandedOverLate, waitUntil } from './support/revocation-dates.ts';
import type { TestService } from './support/service.ts';

/*
 * Review 197, through the service: an auditor asking "what was revoked in this window" over HTTP is told what the
 * CRL and OCSP say was revoked in it. A rotation's handover recorded by a scheduler a day late (review 171) and the
 * cascade's revocation after a subscription lapsed while the service was down (review 191) were listed by compliance
 * at their recording, a day or more after the date on the CRL. That date is the CRL entry's and OCSP's invalidityDate
 * since review 203 (RFC 5280 5.3.2, RFC 6960 4.4); their revocationDate / revocationTime is the recording.
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Row {
  readonly id: string;
  readonly occurredAt: string;
}

/** The revocations `svc` lists in [from, to) over HTTP, once its read models have caught up with its store. */
const revokedIn = async (svc: TestService, from: number, to: number): Promise<Row[]> => {
  const url = `${svc.url}/v1/compliance/revocations?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;
  let answer: { eventsBehind: number; rows: Row[] } = { eventsBehind: 1, rows: [] };
  await waitUntil('compliance caught up', async () => {
    const r = await fetch(url, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    answer = (await r.json()) as typeof answer;
    return answer.eventsBehind === 0;
  });
  return answer.rows;
};

/** The compliance read model of `svc`'s log built again from position 0 lists the rows the live one lists. */
const expectRebuiltEqualsLive = async (svc: TestService): Promise<void> => {
  const { credence } = svc.service.context;
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  // With the audit trail, as the runtime keeps it: `revocations` reads each row's signature from it (review 327).
  await new ProjectionRunner({ db, store: credence.store, projections: [auditTrail(), complianceProjection()], batchSize: 10_000 }).catchUp();
  expect(revocations(db)).toEqual(revocations(credence.readModels));
  expect(revocations(db, {}, {}, 'newest')).toEqual(revocations(credence.readModels, {}, {}, 'newest'));
  db.close();
};

describe('a predecessor superseded at the end of its overlap (+2 h), recorded by a scheduler that first ticked at +26 h', () => {
  const scene = useRotationHandedOverLate('credence-compliance-superseded-');
  const { start, overlapEndsAt } = scene;

  it('is listed in the hour the overlap ended, at the invalidityDate the CRL and OCSP give, and not at its recording', async () => {
    const { svc, leaf } = scene;
    expect(crlInvalidityDate(await crlListing(svc, 'crl', leaf.serialNumber), leaf.serialNumber)).toBe(overlapEndsAt);
    expect(ocspInvalidityDate(await ocspAnswer(svc, leaf))).toBe(overlapEndsAt);
    expect(await revokedIn(svc, overlapEndsAt, overlapEndsAt + HOUR)).toMatchObject([{ id: 'cred-1', occurredAt: new Date(overlapEndsAt).toISOString() }]);
    expect(await revokedIn(svc, start + 26 * HOUR, start + 27 * HOUR)).toEqual([]);
  });

  it('is listed alike by the read model rebuilt from position 0', async () => {
    await expectRebuiltEqualsLive(scene.svc);
  });
});

describe("a node's credential revoked by the cascade at a restart 10 days after its subscription lapsed (+1 day)", () => {
  let lapsed: TestLeaf;
  const scene = useRestartedAfterALapse('credence-compliance-lapse-', async (credence, certify, { start, subscriptionEndsAt }) => {
    const validity = { notBefore: new Date(start - DAY).toISOString(), notAfter: new Date(subscriptionEndsAt).toISOString() };
    await credence.engine.execute(command('createSubscription', { subscriptionId: 'sub-2', subscriber: 'City Utilities', ...validity }, { actor: operator }));
    lapsed = await certify('cred-lapsed', 'meter-2', 'sub-2');
  });
  const { subscriptionEndsAt, restartAt } = scene;

  it("is listed in the hour the subscription's notAfter began, at the invalidityDate the CRL and OCSP give", async () => {
    const { svc } = scene;
    expect(crlInvalidityDate(await crlListing(svc, 'crl', lapsed.serialNumber), lapsed.serialNumber)).toBe(subscriptionEndsAt);
    expect(ocspInvalidityDate(await ocspAnswer(svc, lapsed))).toBe(subscriptionEndsAt);
    expect(await revokedIn(svc, subscriptionEndsAt, subscriptionEndsAt + HOUR)).toMatchObject([{ id: 'cred-lapsed', occurredAt: new Date(subscriptionEndsAt).toISOString() }]);
    expect((await revokedIn(svc, restartAt, restartAt + HOUR)).map((r) => r.id)).not.toContain('cred-lapsed');
  });

  it('is listed alike by the read model rebuilt from position 0', async () => {
    await expectRebuiltEqualsLive(scene.svc);
  });
});
