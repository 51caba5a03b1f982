import { firstValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { EVENT_KIND, type DomainEvent } from '../domain/events/index.ts';
import { identitiesUpTo, PseudonymDeriver, publicLifecycle, type PublicEvent, type PublicScope } from '../projections/pseudonyms/index.ts';
import { publicEvents$ } from '../projections/streams/index.ts';
import { operator } from './support/fleet.ts';
import { canonicalByPosition, publicHistory, twoStakeholderFleet, twoStakeholderKey } from './support/two-stakeholder-fleet.ts';

/*
 * SER-025 ("prevent unauthorized M2M Stakeholders from identifying and/or observing the actions of other M2M
 * Stakeholders"), SER-018: an integrator token scoped to M2M subscriptions and App-IDs reads only those
 * stakeholders' events. Before, the pseudonymised stream carried every event of every stakeholder's nodes.
 */

const scope = (s: { subscriptions?: string[]; appIds?: string[] }): PublicScope => s as PublicScope;

/**
 * The test's own statement of the rule over this fleet's canonical events: a subscription's own events; a node's
 * from its enrolment under a scoped subscription until another enrolment (its end and the cascade after it stay the last
 * one's), and from a move to another subscription no one's until its next rotation, then the new one's (review 369);
 * its credentials' and associations' events meanwhile; an App-ID's application events, and an AE instance on a node
 * in scope; an App-ID's or AE's credential's events that name no association are its App-ID's, those that name one its node's (review 56).
 */
const expectedPositions = (events: Map<bigint, DomainEvent>, s: { subscriptions?: string[]; appIds?: string[] }): Set<bigint> => {
  const subs = new Set(s.subscriptions ?? []);
  const apps = new Set(s.appIds ?? []);
  const enrolledUnder = new Map<string, string>();
  const credentialNode = new Map<string, string>();
  const credentialApp = new Map<string, string>();
  const associationNode = new Map<string, string>();
  const moved = new Set<string>();
  const kept = new Set<bigint>();
  for (const [position, e] of events) {
    const d = e.data as Record<string, unknown>;
    let node: string | undefined;
    if (e.type === 'CredentialIssued') {
      const owner = d['owner'] as { kind: string; id: string; appId?: string };
      if (owner.kind === 'node') credentialNode.set(d['credentialId'] as string, owner.id);
      const app = owner.kind === 'app' ? owner.id : owner.appId;
      if (app !== undefined) credentialApp.set(d['credentialId'] as string, app);
    }
    if (e.type === 'AssociationConfigured') associationNode.set(d['associationId'] as string, d['nodeId'] as string);
    if (e.type === 'PseudonymRotated' && d['trigger'] !== 'initial') moved.delete(d['nodeId'] as string);
    const inScope = (n: string | undefined) => n !== undefined && !moved.has(n) && subs.has(enrolledUnder.get(n) ?? '');
    let keep: boolean;
    switch (EVENT_KIND[e.type]) {
      case 'subscription':
        keep = subs.has(d['subscriptionId'] as string);
        break;
      case 'application':
        keep = apps.has(d['appId'] as string) || inScope(associationNode.get(d['associationId'] as string));
        break;
      case 'node':
        node = d['nodeId'] as string;
        if (e.type === 'NodeEnrolled') {
          const before = enrolledUnder.get(node);
          if (before !== undefined && before !== d['subscriptionId']) moved.add(node);
          enrolledUnder.set(node, d['subscriptionId'] as string);
        }
        keep = inScope(node);
        break;
      case 'credential':
        if (d['associationId'] !== undefined) keep = inScope(associationNode.get(d['associationId'] as string));
        else if (credentialApp.has(d['credentialId'] as string)) keep = apps.has(credentialApp.get(d['credentialId'] as string)!);
        else keep = inScope(credentialNode.get(d['credentialId'] as string));
        break;
      case 'association':
        keep = inScope(associationNode.get(d['associationId'] as string));
        break;
      default:
        keep = false;
    }
    if (keep) kept.add(position);
  }
  return kept;
};

let c: Credence;
let events: Map<bigint, DomainEvent>;
let unbroken: PublicEvent[];
beforeAll(async () => {
  c = await twoStakeholderFleet();
  events = await canonicalByPosition(c);
  unbroken = await publicHistory(c);
}, 60_000);
afterAll(async () => {
  await c?.close();
});

const positionOf = (type: string, match: (d: Record<string, unknown>) => boolean): bigint =>
  [...events].find(([, e]) => e.type === type && match(e.data as Record<string, unknown>))![0];

describe('a scoped pseudonymised stream', () => {
  it("over two subscriptions' fleets, publishes exactly the scoped subscription's nodes' events and what they own, with the unscoped stream's pseudonyms", async () => {
    for (const subscriptions of [['sub-01'], ['sub-09'], ['sub-01', 'sub-09']]) {
      const scoped = await publicHistory(c, scope({ subscriptions }));
      const expected = expectedPositions(events, { subscriptions });
      expect(scoped, subscriptions.join()).toEqual(unbroken.filter((e) => expected.has(e.position)));
    }
    const one = await publicHistory(c, scope({ subscriptions: ['sub-01'] }));
    // meter-01's association, its credential's, and the AE instance of Rapp01 on it are sub-01's.
    expect(one.map((e) => e.type)).toEqual(expect.arrayContaining(['NodeEnrolled', 'CredentialIssued', 'AssociationEstablished', 'ApplicationInstanceAssociated']));
    // Nothing of the other stakeholder: not its subscription's pseudonym, not any of meter-09's.
    const deriver = new PseudonymDeriver(twoStakeholderKey);
    const text = JSON.stringify(one, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    const others = [
      await deriver.identifier('subscription', 'sub-09', 0),
      ...(await Promise.all([0, 1, 2].map((epoch) => deriver.identifier('node', 'meter-09', epoch)))),
    ];
    for (const other of others) expect(text).not.toContain(other);
    // Never the events of a node before it is enrolled: NodeRegistered is in no subscription's scope.
    expect(one.some((e) => e.type === 'NodeRegistered')).toBe(false);
    // The membership is the fold's, one entry per node ever enrolled (meter-01, meter-09, mover-08).
    expect((await identitiesUpTo(c.store, (await c.store.headPosition())!))!.size().enrolments).toBe(3);
  });

  it('follows a node that moves from one subscription to another: each scope sees it only for its own time', async () => {
    const first = positionOf('NodeEnrolled', (d) => d['nodeId'] === 'mover-08' && d['subscriptionId'] === 'sub-01');
    const move = positionOf('NodeEnrolled', (d) => d['nodeId'] === 'mover-08' && d['subscriptionId'] === 'sub-09');
    const later = positionOf('CredentialIssued', (d) => d['credentialId'] === 'mover-08-cred-2');
    const one = new Set((await publicHistory(c, scope({ subscriptions: ['sub-01'] }))).map((e) => e.position));
    const nine = new Set((await publicHistory(c, scope({ subscriptions: ['sub-09'] }))).map((e) => e.position));
    expect([one.has(first), one.has(move), one.has(later)]).toEqual([true, false, false]);
    // The move frame is no one's: sub-09 sees mover-08 from its rotation after the move on (review 369).
    expect([nine.has(first), nine.has(move), nine.has(later)]).toEqual([false, false, true]);
    // A node's revocation, and the cascade's revocations of what it owned after it, are its last subscription's.
    const revoked = positionOf('NodeRevoked', (d) => d['nodeId'] === 'meter-09');
    const cascaded = [
      positionOf('CredentialRevoked', (d) => d['credentialId'] === 'meter-09-cred'),
      positionOf('AssociationRevoked', (d) => d['associationId'] === 'meter-09-sa'),
    ];
    expect(cascaded.every((p) => p > revoked)).toBe(true);
    expect([one.has(revoked), nine.has(revoked)]).toEqual([false, true]);
    expect(cascaded.map((p) => [one.has(p), nine.has(p)])).toEqual([[false, true], [false, true]]);
  });

  it("by App-ID, publishes the application's own stream and its credential's, and with a subscription both", async () => {
    const app = await publicHistory(c, scope({ appIds: ['Rapp01'] }));
    expect(app).toEqual(unbroken.filter((e) => expectedPositions(events, { appIds: ['Rapp01'] }).has(e.position)));
    expect(app.map((e) => e.type)).toEqual(['ApplicationRegistered', 'CredentialIssued', 'CredentialProvisioned', 'ApplicationEnrolled', 'ApplicationInstanceAssociated']);
    expect(await publicHistory(c, scope({ appIds: ['Rapp09'] }))).toEqual(unbroken.filter((e) => expectedPositions(events, { appIds: ['Rapp09'] }).has(e.position)));
    const both = await publicHistory(c, scope({ subscriptions: ['sub-09'], appIds: ['Rapp01'] }));
    const expected = new Set([...expectedPositions(events, { subscriptions: ['sub-09'] }), ...app.map((e) => e.position)]);
    expect(both).toEqual(unbroken.filter((e) => expected.has(e.position)));
  });

  it("gives an AE credential's events that name no association to its App-ID, and those naming an association to that association's node (review 56)", async () => {
    // ae-cred (ae:Cbilling@app:Rapp09) is used on meter-01 (sa-01, sub-01) and meter-09 (sa-09, sub-09); sa-01 is
    // revoked, then ae-cred. Before, it was meter-01's from its first association: sub-01 got its revocation after its
    // use there had ended, and sub-09, whose live association used it, did not.
    const ae = (type: string, associationId?: string) =>
      positionOf(type, (d) => d['credentialId'] === 'ae-cred' && (associationId === undefined || d['associationId'] === associationId));
    const lifecycle = [ae('CredentialIssued'), ae('CredentialProvisioned'), ae('CredentialRevoked')];
    const onOne = [ae('CredentialAssociated', 'sa-01'), ae('CredentialAssociationReleased', 'sa-01')];
    const onNine = [ae('CredentialAssociated', 'sa-09')];
    const published = async (s: { subscriptions?: string[]; appIds?: string[] }) => {
      const positions = new Set((await publicHistory(c, scope(s))).map((e) => e.position));
      return (ps: bigint[]) => ps.map((p) => positions.has(p));
    };
    const one = await published({ subscriptions: ['sub-01'] });
    const nine = await published({ subscriptions: ['sub-09'] });
    const billing = await published({ appIds: ['Rapp09'] });
    const metering = await published({ appIds: ['Rapp01'] });
    expect([one(lifecycle), one(onOne), one(onNine)]).toEqual([[false, false, false], [true, true], [false]]);
    expect([nine(lifecycle), nine(onOne), nine(onNine)]).toEqual([[false, false, false], [false, false], [true]]);
    expect([billing(lifecycle), billing(onOne), billing(onNine)]).toEqual([[true, true, true], [false, false], [false]]);
    expect(metering([...lifecycle, ...onOne, ...onNine]).some(Boolean)).toBe(false);
    // sub-09 learns its use ended from its own association's end, which the credential's revocation cascades to.
    expect(nine([positionOf('AssociationRevoked', (d) => d['associationId'] === 'sa-09')])).toEqual([true]);
    // The fold keeps an App-ID per live App-ID or AE credential (app-cred-01 and -09), and per credential revoked for
    // another reason than keyCompromise until its raise or its notAfter's day (review 210): ae-cred, revoked as superseded.
    expect((await identitiesUpTo(c.store, (await c.store.headPosition())!))!.size().appCredentials).toBe(3);
  });

  it('resumed after any position (Last-Event-ID), or from the end, equals the unbroken scoped stream', async () => {
    for (const s of [scope({ subscriptions: ['sub-01'], appIds: ['Rapp01'] }), scope({ subscriptions: ['sub-09'], appIds: ['Rapp09'] })]) {
      const whole = await publicHistory(c, s);
      for (const position of events.keys()) {
        expect(await publicHistory(c, s, position), `resumed after ${position}`).toEqual(whole.filter((e) => e.position > position));
        // The service's stream (publicEvents$) resumes so too.
        const tail = whole.filter((e) => e.position > position);
        if (tail.length > 0) {
          const served = await firstValueFrom(publicEvents$(c.store, c.pseudonyms!.deriver, { from: position }, { scope: s }).pipe(take(tail.length), toArray()));
          expect(served, `served after ${position}`).toEqual(tail);
        }
      }
    }
    // From the end: what comes next is published for the scope it belongs to only, named as the unbroken stream names it.
    const nine = scope({ subscriptions: ['sub-09'] });
    const next = firstValueFrom(publicEvents$(c.store, c.pseudonyms!.deriver, { from: 'end' }, { scope: nine }).pipe(take(1)));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await c.engine.execute(command('revokeNode', { nodeId: 'meter-01', reason: 'cessationOfOperation' }, { actor: operator }));
    await c.engine.execute(command('revokeNode', { nodeId: 'mover-08', reason: 'cessationOfOperation' }, { actor: operator }));
    await c.settle();
    const first = await next;
    expect(first.type).toBe('NodeRevoked');
    const all = await publicHistory(c);
    expect(all.find((e) => e.position === first.position)).toEqual(first);
    expect(events.size).toBeLessThan(Number(first.position));
    expect((await canonicalByPosition(c)).get(first.position)!.data).toMatchObject({ nodeId: 'mover-08' });
  });

  it('refuses a scope that names nothing, too many, or malformed ids, naming the field and the rule', () => {
    const refusal = (s: unknown) => {
      try {
        publicLifecycle(c.store, c.pseudonyms!.deriver, { scope: s as PublicScope });
      } catch (error) {
        if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return error.problem.issues.map((i) => `${i.path} ${i.rule}`);
        throw error;
      }
      return [];
    };
    expect(refusal({})).toEqual(['scope empty_scope']);
    expect(refusal({ subscriptions: [] })).toEqual(['scope.subscriptions too_small']);
    expect(refusal({ appIds: Array.from({ length: 33 }, (_, i) => `Rapp${i}`) })).toEqual(['scope.appIds too_big']);
    expect(refusal({ subscriptions: ['sub 01'], appIds: ['app-01'] })).toEqual(['scope.subscriptions.0 invalid_format', 'scope.appIds.0 invalid_format']);
  });
});
