import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import type { EventStore, RecordedEvent } from '../domain/ports/event-store.ts';
import {
  answerQuery,
  COMPLIANCE_QUERIES,
  danglingAssociations,
  expiringWithin,
  provisionedUnder,
  revocations,
} from '../projections/compliance/index.ts';
import { main } from '../bin/cli.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';
import { capture } from './support/cli.ts';

const eventAt = async (store: EventStore, position: bigint): Promise<RecordedEvent> => {
  for await (const e of store.readAll({ afterPosition: position - 1n, maxCount: 1 })) return e;
  throw new Error(`no event at ${position}`);
};

/**
 * Two subscriptions, three meters. meter-2 moves from sub-a to sub-b (RS-17) between two provisionings.
 * Day 1: cred-1 revoked for key compromise (cascade: sa-1). Day 2: meter-3 decommissioned (cascade: cred-3, sa-3).
 */
const scenario = async (c: Credence, clock: FakeClock) => {
  const run = (input: unknown) => c.engine.execute(input);
  await run(cmd.createSubscription('sub-a'));
  await run(cmd.createSubscription('sub-b'));
  for (const [node, sub] of [['meter-1', 'sub-a'], ['meter-2', 'sub-a'], ['meter-3', 'sub-b']] as const) {
    await run(cmd.registerNode(node));
    await run(cmd.enrolNode(node, sub));
  }
  await run(cmd.issueCredential('cred-1', 'meter-1', at(90)));
  await run(cmd.issueCredential('cred-2', 'meter-2', at(20)));
  await run(cmd.issueCredential('cred-3', 'meter-3', at(200)));
  await run(cmd.issueCredential('cred-4', 'meter-1', at(15)));
  for (const cred of ['cred-1', 'cred-2', 'cred-3']) await run(cmd.provisionCredential(cred));
  await run(cmd.enrolNode('meter-2', 'sub-b'));
  await run(cmd.issueCredential('cred-5', 'meter-2', at(100)));
  await run(cmd.provisionCredential('cred-5'));
  await run(cmd.configureAssociation('sa-1', 'cred-1', 'meter-1'));
  await run(cmd.establishAssociation('sa-1'));
  await run(cmd.configureAssociation('sa-2', 'cred-2', 'meter-2'));
  await run(cmd.establishAssociation('sa-2', at(10)));
  await run(cmd.configureAssociation('sa-3', 'cred-3', 'meter-3'));
  await run(cmd.establishAssociation('sa-3'));
  await c.settle();
  clock.set(at(1));
  await run(cmd.revokeCredential('cred-1', 'keyCompromise'));
  await c.settle();
  clock.set(at(2));
  await run(command('revokeNode', { nodeId: 'meter-3', reason: 'cessationOfOperation' }, { actor: operator }));
  await c.settle();
};

const openScenario = async (location: { memory: true } | { dir: string } = { memory: true }) => {
  const clock = new FakeClock(T0);
  const c = openCredence({ location, clock });
  await scenario(c, clock);
  return { c, clock };
};

describe('compliance queries', () => {
  it('lists revocations by reason in a time window, each with the position of the revocation event', async () => {
    const { c } = await openScenario();
    const keyCompromise = revocations(c.readModels, { reason: 'keyCompromise', from: new Date(at(1)), to: new Date(at(2)) });
    expect(keyCompromise.map((r) => [r.streamId, r.reason, r.actor, r.occurredAt])).toEqual([
      ['credential-cred-1', 'keyCompromise', operator.id, at(1)],
      ['association-sa-1', 'keyCompromise', 'system:process-manager', at(1)],
    ]);
    const all = revocations(c.readModels);
    expect(all.map((r) => [r.kind, r.id, r.reason])).toEqual([
      ['credential', 'cred-1', 'keyCompromise'],
      ['association', 'sa-1', 'keyCompromise'],
      ['node', 'meter-3', 'cessationOfOperation'],
      ['credential', 'cred-3', 'cessationOfOperation'],
      ['association', 'sa-3', 'cessationOfOperation'],
    ]);
    // The window is half-open: day 2's decommissioning is outside [day 1, day 2).
    expect(revocations(c.readModels, { reason: 'cessationOfOperation', to: new Date(at(2)) })).toEqual([]);
    for (const row of all) {
      const proof = await eventAt(c.store, row.position);
      expect([proof.streamId, proof.type.endsWith('Revoked'), proof.data['reason']]).toEqual([row.streamId, true, row.reason]);
    }
    await c.close();
  });

  it('lists every action of one actor through the named query', async () => {
    const { c } = await openScenario();
    const answer = answerQuery('actions', c.readModels, COMPLIANCE_QUERIES.actions.params.parse({ actor: operator.id, from: '2026-01-02' }), new Date());
    expect(answer.rows.map((r) => (r as unknown as { commandType: string }).commandType)).toEqual(['revokeCredential', 'revokeNode']);
    expect(answer.truncated).toBe(false);
    await c.close();
  });

  it('lists credentials provisioned while their node was enrolled under a subscription, at provisioning time', async () => {
    const { c } = await openScenario();
    const underA = provisionedUnder(c.readModels, 'sub-a');
    const underB = provisionedUnder(c.readModels, 'sub-b');
    expect(underA.map((r) => [r.credentialId, r.nodeId])).toEqual([['cred-1', 'meter-1'], ['cred-2', 'meter-2']]);
    // meter-2 moved to sub-b before cred-5 was provisioned; its earlier cred-2 stays under sub-a.
    expect(underB.map((r) => [r.credentialId, r.nodeId])).toEqual([['cred-3', 'meter-3'], ['cred-5', 'meter-2']]);
    for (const row of [...underA, ...underB]) {
      const provisioning = await eventAt(c.store, row.position);
      const enrolment = await eventAt(c.store, row.enrolmentPosition);
      expect([provisioning.type, provisioning.data['credentialId']]).toEqual(['CredentialProvisioned', row.credentialId]);
      expect([enrolment.type, enrolment.data['nodeId']]).toEqual(['NodeEnrolled', row.nodeId]);
      expect(enrolment.position).toBeLessThan(provisioning.position);
    }
    expect(provisionedUnder(c.readModels, 'sub-none')).toEqual([]);
    await c.close();
  });

  it("lists a credential issued to a node's CSE-ID or AE-ID under the subscription its node was enrolled in (found in review: left out)", async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock });
    const run = (input: unknown) => c.engine.execute(input);
    for (const sub of ['sub-a', 'sub-b']) await run(cmd.createSubscription(sub));
    await run(cmd.registerNode('meter-1'));
    await run(cmd.enrolNode('meter-1', 'sub-a'));
    const toIdentifier = (credentialId: string, owner: { kind: 'cse' | 'ae'; id: string; nodeId?: string; appId?: string }) => cmd.issueCredential(credentialId, 'meter-1', at(90), { owner });
    // The CSE-ID is the node's from its enrolment on; the AE-ID once an association names it as its Registree.
    await run(toIdentifier('cse-cred', { kind: 'cse', id: '/cse-meter-1', nodeId: 'meter-1' }));
    await run(cmd.provisionCredential('cse-cred'));
    // An AE-ID's credential names its App-ID, registered first (review 41).
    await run(command('registerApplication', { appId: 'Rmetering', name: 'metering', provider: 'Acme' }, { actor: operator }));
    await run(toIdentifier('ae-cred', { kind: 'ae', id: 'Cmeter-1-ae', appId: 'Rmetering' }));
    await run(cmd.provisionCredential('ae-cred'));
    await run(cmd.issueCredential('app-cred', 'meter-1', at(300), { owner: { kind: 'app', id: 'Rmetering' }, purpose: 'application' }));
    await run(cmd.provisionCredential('app-cred'));
    await run(command('enrolApplication', { appId: 'Rmetering', credentialId: 'app-cred' }, { actor: operator }));
    await run(command('configureAssociation', {
      associationId: 'ae-sa', nodeId: 'meter-1', credentialId: 'ae-cred', registree: { kind: 'ae', id: 'Cmeter-1-ae', appId: 'Rmetering' }, registrarCseId: '/in-cse',
    }, { actor: operator }));
    // The instance runs on meter-1 once the association is established (review 49: configured only, it counts nowhere).
    await run(cmd.establishAssociation('ae-sa'));
    await run(toIdentifier('ae-cred-2', { kind: 'ae', id: 'Cmeter-1-ae', appId: 'Rmetering' }));
    await run(command('enrolNode', { nodeId: 'meter-1', subscriptionId: 'sub-b', cseId: '/cse-meter-1' }, { actor: operator }));
    await run(cmd.provisionCredential('ae-cred-2'));
    await c.settle();
    // ae-cred was provisioned before anything said whose AE it is: it counts under the enrolment of the node the first
    // association of its App-ID's instance established says, then (review 48, 49; it was under no subscription).
    // ae-cred-2 after the move.
    expect(provisionedUnder(c.readModels, 'sub-a').map((r) => [r.credentialId, r.nodeId])).toEqual([['cse-cred', 'meter-1'], ['ae-cred', 'meter-1']]);
    expect(provisionedUnder(c.readModels, 'sub-b').map((r) => [r.credentialId, r.nodeId])).toEqual([['ae-cred-2', 'meter-1']]);
    await c.close();
  });

  it('lists live credentials expiring in the next N days relative to the clock', async () => {
    const { c, clock } = await openScenario();
    const rows = expiringWithin(c.readModels, clock.now(), 30);
    expect(rows.map((r) => [r.credentialId, r.notAfter, r.status])).toEqual([
      ['cred-4', at(15), 'issued'],
      ['cred-2', at(20), 'provisioned'],
    ]);
    for (const row of rows) expect((await eventAt(c.store, row.position)).data).toMatchObject({ credentialId: row.credentialId, notAfter: row.notAfter });
    expect(expiringWithin(c.readModels, clock.now(), 13).map((r) => r.credentialId)).toEqual([]);
    // [day 2, day 100) leaves out cred-5 (notAfter day 100); one more day takes it in.
    expect(expiringWithin(c.readModels, clock.now(), 98).map((r) => r.credentialId)).toEqual(['cred-4', 'cred-2']);
    expect(expiringWithin(c.readModels, clock.now(), 99).map((r) => r.credentialId)).toEqual(['cred-4', 'cred-2', 'cred-5']);
    // Once they have expired on schedule they are no longer "expiring".
    clock.set(at(25));
    await c.tick();
    expect(expiringWithin(c.readModels, clock.now(), 30)).toEqual([]);
    await c.close();
  });

  it('finds no live association on a revoked or expired credential once the cascade has run, and would find one without it', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock });
    await c.engine.execute(cmd.createSubscription());
    await c.engine.execute(cmd.registerNode('meter-1'));
    await c.engine.execute(cmd.enrolNode('meter-1'));
    await c.engine.execute(cmd.issueCredential('cred-1', 'meter-1'));
    await c.engine.execute(cmd.provisionCredential('cred-1'));
    for (const sa of ['sa-1', 'sa-2']) {
      await c.engine.execute(cmd.configureAssociation(sa, 'cred-1', 'meter-1'));
      await c.engine.execute(cmd.establishAssociation(sa));
    }
    await c.settle();
    const revocation = await c.engine.execute(cmd.revokeCredential('cred-1', 'keyCompromise'));

    // The compliance read model alone, before the cascade has reacted: both associations dangle.
    await c.runner.catchUp('compliance');
    const dangling = danglingAssociations(c.readModels);
    expect(dangling.map((r) => [r.associationId, r.associationStatus, r.credentialStatus, r.position])).toEqual([
      ['sa-1', 'established', 'revoked', revocation.events[0]!.position],
      ['sa-2', 'established', 'revoked', revocation.events[0]!.position],
    ]);

    await c.settle();
    expect(danglingAssociations(c.readModels)).toEqual([]);
    await c.close();
  });

  it('keeps the dangling-association query empty through the whole scenario and after expiry', async () => {
    const { c, clock } = await openScenario();
    expect(danglingAssociations(c.readModels)).toEqual([]);
    for (const day of [10, 20, 90, 200]) {
      clock.set(at(day));
      await c.tick();
      expect(danglingAssociations(c.readModels), `day ${day}`).toEqual([]);
    }
    const states = await Promise.all(['sa-1', 'sa-2', 'sa-3'].map(async (a) => String((await c.engine.entity('association', a)).snapshot.value)));
    expect(states).toEqual(['revoked', 'expired', 'revoked']);
    await c.close();
  });

  describe('credence query', () => {
    let dir: string | undefined;
    afterEach(() => {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    });

    it('answers each named query from the data folder, as JSON or text, and refuses bad parameters', async () => {
      dir = mkdtempSync(join(tmpdir(), 'credence-query-'));
      const { c } = await openScenario({ dir });
      await c.close();

      const revoked = capture();
      expect(await main(['query', 'revocations', '--reason', 'keyCompromise', '--json', '--data', dir], revoked.io)).toBe(0);
      const body = JSON.parse(revoked.out.join('\n')) as { rows: { streamId: string; position: string }[] };
      expect(body.rows.map((r) => r.streamId)).toEqual(['credential-cred-1', 'association-sa-1']);
      expect(body.rows.every((r) => /^\d+$/.test(r.position))).toBe(true);

      const expiring = capture();
      expect(await main(['query', 'expiring', '--days', '30', '--now', at(2), '--data', dir], expiring.io)).toBe(0);
      expect(expiring.out[0]).toBe('expiring: 2 rows');
      expect(expiring.out[1]).toMatch(/^ {2}@\d+ {2}credentialId=cred-4 /);

      // One page at a time: the rest is named on stderr, and --after goes on from it.
      const first = capture();
      expect(await main(['query', 'provisioned', '--subscription', 'sub-b', '--limit', '1', '--json', '--data', dir], first.io)).toBe(0);
      const page = JSON.parse(first.out.join('\n')) as { rows: { credentialId: string }[]; truncated: boolean; nextAfter: string };
      expect([page.rows.map((r) => r.credentialId), page.truncated]).toEqual([['cred-3'], true]);
      expect(first.err.join('\n')).toContain(`the next page is --after ${page.nextAfter}`);
      const second = capture();
      expect(await main(['query', 'provisioned', '--subscription', 'sub-b', '--limit', '1', '--after', page.nextAfter, '--data', dir], second.io)).toBe(0);
      expect([second.out[0], second.out[1]?.includes('credentialId=cred-5'), second.err]).toEqual(['provisioned: 1 row', true, []]);

      const provisioned = capture();
      expect(await main(['query', 'provisioned', '--subscription', 'sub-b', '--json', '--data', dir], provisioned.io)).toBe(0);
      expect((JSON.parse(provisioned.out.join('\n')) as { rows: { credentialId: string }[] }).rows.map((r) => r.credentialId)).toEqual(['cred-3', 'cred-5']);

      const dangling = capture();
      expect(await main(['query', 'dangling-associations', '--data', dir], dangling.io)).toBe(0);
      expect(dangling.out).toEqual(['dangling-associations: 0 rows']);

      const wrongParam = capture();
      for (const blank of ['', ' ']) {
        const refused = capture();
        expect(await main(['query', 'expiring', '--days', blank, '--data', dir], refused.io)).toBe(2);
        expect(refused.err.join('\n')).toContain('days');
      }
      expect(await main(['query', 'dangling-associations', '--days', '3', '--data', dir], wrongParam.io)).toBe(2);
      expect(wrongParam.err.join('\n')).toContain('days');
      const badReason = capture();
      expect(await main(['query', 'revocations', '--reason', 'boredom', '--data', dir], badReason.io)).toBe(2);
      expect(badReason.err.join('\n')).toContain('--reason');
      const unknown = capture();
      expect(await main(['query', 'everything', '--data', dir], unknown.io)).toBe(2);
      expect(unknown.err.join('\n')).toContain('dangling-associations');
    });
  });
});
