import { firstValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { hmacSha256 } from '../domain/crypto/index.ts';
import type { DomainEvent } from '../domain/events/index.ts';
import { PseudonymDeriver, PublicIdentities, publicLifecycle, type PseudonymKey, type PublicEvent, type PublicScope } from '../projections/pseudonyms/index.ts';
import { at, cmd, T0 } from './support/fleet.ts';

/*
 * Review 210 (SER-011, SER-025): a revoked credential takes one more event, its reason's raise to keyCompromise (machines
 * v5). The pseudonym fold let a credential's node go at its first end, so the raise was named as a credential of no
 * node (a second, unrelated pseudonym in the same epoch) and a subscription-scoped integrator never received it.
 */
const key: PseudonymKey = { prf: async (m) => hmacSha256(new Uint8Array(32).fill(0x5a), m) };
const revocations = (events: PublicEvent[]) => events.filter((e) => e.type === 'CredentialRevoked');

describe('a revocation raised to keyCompromise', () => {
  it("is named under the first revocation's pseudonym, and a subscription-scoped integrator receives it", async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), pseudonyms: { key } });
    try {
      for (const step of [
        cmd.createSubscription('sub-1'), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1', 'sub-1'),
        cmd.issueCredential('cred-1', 'meter-1'), cmd.provisionCredential('cred-1'),
        cmd.revokeCredential('cred-1', 'superseded'), cmd.revokeCredential('cred-1', 'keyCompromise'),
      ]) await c.engine.execute(step);
      await c.settle();
      const deriver = new PseudonymDeriver(key);
      const named = await deriver.identifier('credential', 'cred-1', 0, 'meter-1');

      const all = revocations(await firstValueFrom(publicLifecycle(c.store, deriver, { live: false }).pipe(toArray())));
      expect(all.map((e) => [e.subject, (e.data as { reason: string }).reason])).toEqual([[named, 'superseded'], [named, 'keyCompromise']]);

      const scope = { subscriptions: ['sub-1'] } as PublicScope;
      const scoped = revocations(await firstValueFrom(publicLifecycle(c.store, deriver, { live: false, scope }).pipe(toArray())));
      expect(scoped.map((e) => [e.subject, (e.data as { reason: string }).reason])).toEqual([[named, 'superseded'], [named, 'keyCompromise']]);
    } finally {
      await c.close();
    }
  });

  it("keeps an App-ID's credential its App-ID's until the raise", () => {
    const event = (type: string, data: Record<string, unknown>) => ({ type, data }) as unknown as DomainEvent;
    const ids = new PublicIdentities();
    ids.observe(event('NodeEnrolled', { nodeId: 'n1', subscriptionId: 's', cseId: '/cse-1' }));
    ids.observe(event('CredentialIssued', { credentialId: 'ae1', owner: { kind: 'ae', id: 'Cae1', appId: 'R1' }, notAfter: at(90) }), Date.parse(T0));
    ids.observe(event('AssociationConfigured', { associationId: 'a1', nodeId: 'n1', credentialId: 'ae1', registree: { kind: 'ae', id: 'Cae1', appId: 'R1' }, registrarCseId: '/in' }));
    // The association that bound it to n1 ends before it is established: nothing of it keeps the credential.
    ids.observe(event('AssociationRevoked', { associationId: 'a1', reason: 'superseded' }));
    ids.observe(event('CredentialRevoked', { credentialId: 'ae1', reason: 'cessationOfOperation' }), Date.parse(at(1)));
    ids.observe(event('NodeEnrolled', { nodeId: 'n2', subscriptionId: 's', cseId: '/cse-2' }), Date.parse(at(2)));
    // Between the two revocations, and at the raise: its App-ID's and its node's, as at the first.
    expect([ids.appOfNext('ae1'), ids.nodeOf('credential', 'ae1')]).toEqual(['R1', 'n1']);
    ids.observe(event('CredentialRevoked', { credentialId: 'ae1', reason: 'keyCompromise' }), Date.parse(at(3)));
    expect([ids.appOf('ae1'), ids.nodeOf('credential', 'ae1')]).toEqual(['R1', 'n1']);
    // After the raise, nothing names it: let go.
    ids.observe(event('NodeEnrolled', { nodeId: 'n3', subscriptionId: 's', cseId: '/cse-3' }), Date.parse(at(4)));
    expect([ids.appOf('ae1'), ids.nodeOf('credential', 'ae1')]).toEqual([undefined, undefined]);
    expect(ids.size()).toMatchObject({ credentials: 0, endedCredentials: 0, appCredentials: 0 });
  });

  it('names the raise of a credential revoked while it waited for its CSE-ID\'s node as its first revocation: of no node', () => {
    const event = (type: string, data: Record<string, unknown>) => ({ type, data }) as unknown as DomainEvent;
    const ids = new PublicIdentities();
    ids.observe(event('CredentialIssued', { credentialId: 'cc1', owner: { kind: 'cse', id: '/cse-7' }, notAfter: at(90) }), Date.parse(T0));
    ids.observe(event('CredentialRevoked', { credentialId: 'cc1', reason: 'superseded' }), Date.parse(at(1)));
    expect(ids.nodeOf('credential', 'cc1')).toBeUndefined();
    // Its CSE-ID's node comes after: the raise is named as the first revocation was, not under that node.
    ids.observe(event('NodeEnrolled', { nodeId: 'n7', subscriptionId: 's', cseId: '/cse-7' }), Date.parse(at(2)));
    ids.observe(event('CredentialRevoked', { credentialId: 'cc1', reason: 'keyCompromise' }), Date.parse(at(3)));
    expect(ids.nodeOf('credential', 'cc1')).toBeUndefined();
  });
});
