import { describe, expect, it } from 'vitest';
import { firstValueFrom, toArray } from 'rxjs';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { hmacSha256 } from '../domain/crypto/index.ts';
import type { DomainEvent } from '../domain/events/index.ts';
import { identitiesUpTo, PseudonymDeriver, PublicIdentities, publicLifecycle, type PseudonymKey, type PublicEvent } from '../projections/pseudonyms/index.ts';
import { at, issueCredentialData, operator, T0 } from './support/fleet.ts';

/*
 * Found in review (SER-001): the pseudonymised stream's fold of who owns which identifier kept every association and
 * credential it had ever seen (an association's end was not an identity event), and each pseudonymised stream holds
 * a copy of it: 200,000 associations came to 13.9 MiB a copy and 208 ms to copy at each stream's open. An association
 * is let go once it ended and its holders released it, an ended node's credentials once they all ended; the frames
 * published for them are still pseudonymised as before (one pseudonym per entity and epoch, no canonical id).
 */
const key: PseudonymKey = { prf: async (m) => hmacSha256(new Uint8Array(32).fill(0x3c), m) };
const NODES = Array.from({ length: 10 }, (_, i) => `meter-9${i}`);
const PER_NODE = 200;
const op = { actor: operator };

const association = (node: string, k: number) => `${node}-sa-${k}`;
const credential = (node: string) => `${node}-svc`;

describe("the pseudonymised stream's fold of identities", () => {
  it('holds the live associations and credentials, not the history, and still names every frame of the ended ones', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), pseudonyms: { key } });
    try {
      const run = (type: Parameters<typeof command>[0], data: Record<string, unknown>) => c.engine.execute(command(type, data, op));
      await run('createSubscription', { subscriptionId: 'city-98', subscriber: 'City 98', notBefore: T0, notAfter: at(365) });
      for (const node of NODES) {
        await run('registerNode', { nodeId: node, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'M-10', capabilities: ['metering'] } });
        await run('enrolNode', { nodeId: node, subscriptionId: 'city-98', cseId: `/${node}-cse` });
        await run('issueCredential', issueCredentialData(credential(node), node, { notBefore: T0, notAfter: at(90) }));
        await run('provisionCredential', { credentialId: credential(node), method: 'pre-provisioning' });
      }
      await c.settle();
      // 2,000 associations come and go (one in ten is revoked before it is established); one per node stays.
      for (let k = 0; k <= PER_NODE; k++) {
        for (const node of NODES) {
          const associationId = association(node, k);
          await run('configureAssociation', { associationId, nodeId: node, credentialId: credential(node), registree: { kind: 'cse', id: `/${node}-cse` }, registrarCseId: '/in-cse-98' });
          if (k % 10 !== 3) await run('establishAssociation', { associationId, expiresAt: at(30) });
          if (k < PER_NODE) await run('revokeAssociation', { associationId, reason: 'superseded' });
        }
        if (k % 20 === 0) await c.settle();
      }
      await c.settle();

      const head = (await c.store.headPosition())!;
      const live = (await identitiesUpTo(c.store, head))!.size();
      // Each association is indexed by its node and its credential (review 45: by its App-ID too for an AE's).
      expect(live).toMatchObject({ associations: NODES.length, associationIndex: 2 * NODES.length, credentials: NODES.length, endedCredentials: 0 });

      // Half the fleet ends: their credentials and last associations end with them (the cascade), and their entries go;
      // the credentials', revoked as cessationOfOperation, once no raise to keyCompromise may come (review 210): until
      // their notAfter's day.
      for (const node of NODES.slice(0, 5)) await run('revokeNode', { nodeId: node, reason: 'cessationOfOperation' });
      await c.settle();
      const after = (await identitiesUpTo(c.store, (await c.store.headPosition())!))!.size();
      expect(after).toMatchObject({ associations: 5, associationIndex: 10, credentials: 10, endedCredentials: 5, endedNodes: 5 });

      // Every frame is still named as an unbroken fold names it: each association and credential under its node's
      // epoch 0, with its node, in every frame of it, the ended ones' releases and revocations included.
      const events: PublicEvent[] = await firstValueFrom(publicLifecycle(c.store, new PseudonymDeriver(key), { live: false }).pipe(toArray()));
      const deriver = new PseudonymDeriver(key);
      const expected = new Map<string, string>();
      for (const node of NODES) {
        expected.set(await deriver.identifier('credential', credential(node), 0, node), credential(node));
        for (let k = 0; k <= PER_NODE; k++) expected.set(await deriver.identifier('association', association(node, k), 0, node), association(node, k));
      }
      const named = new Map<string, number>();
      for (const e of events) {
        const text = JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
        expect(text).not.toMatch(/meter-9|city-98|in-cse-98/);
        const data = e.data as Record<string, unknown>;
        for (const [field, kind] of [['associationId', 'sa-'], ['credentialId', 'cred-']] as const) {
          const p = data[field];
          if (typeof p !== 'string') continue;
          expect(expected.has(p), `${e.type} @${e.position}: ${field} ${p} is not its entity's pseudonym of epoch 0`).toBe(true);
          expect(p.startsWith(kind)).toBe(true);
          named.set(p, (named.get(p) ?? 0) + 1);
        }
      }
      // Each association ended and established is named by 7 frames: configured, established, recorded on and
      // released from its credential and node, ended; one never established by 2; one still live by 4; one ended
      // with its node by 5 (neither holder records a release once it ended itself) to 7.
      for (const node of NODES) {
        for (let k = 0; k <= PER_NODE; k++) {
          const p = await deriver.identifier('association', association(node, k), 0, node);
          const frames = named.get(p);
          if (k === PER_NODE && NODES.indexOf(node) < 5) expect(frames, association(node, k)).toBeGreaterThanOrEqual(5);
          else expect(frames, association(node, k)).toBe(k === PER_NODE ? 4 : k % 10 === 3 ? 2 : 7);
        }
      }
      const revoked = events.filter((e) => e.type === 'CredentialRevoked').map((e) => e.subject);
      expect(new Set(revoked)).toEqual(new Set(await Promise.all(NODES.slice(0, 5).map((n) => deriver.identifier('credential', credential(n), 0, n)))));
    } finally {
      await c.close();
    }
  }, 120_000);

  it("keeps an AE's association until its App-ID released it too, or ended, and names it as before until then", async () => {
    const event = (type: string, data: Record<string, unknown>) => ({ type, data }) as unknown as DomainEvent;
    const deriver = new PseudonymDeriver(key);
    const ids = new PublicIdentities();
    ids.observe(event('NodeEnrolled', { nodeId: 'n9', subscriptionId: 's', cseId: '/cse-9' }));
    ids.observe(event('CredentialIssued', { credentialId: 'c9', owner: { kind: 'ae', id: 'Cae9', appId: 'R9' } }));
    for (const a of ['a91', 'a92']) {
      ids.observe(event('AssociationConfigured', { associationId: a, nodeId: 'n9', credentialId: 'c9', registree: { kind: 'ae', id: 'Cae9', appId: 'R9' }, registrarCseId: '/in' }));
      ids.observe(event('AssociationEstablished', { associationId: a }));
    }
    const named = await ids.pseudonymOf(deriver, 'association', 'a91');
    expect(named).toBe(await deriver.identifier('association', 'a91', 0, 'n9'));
    // The AE's credential is bound by the association configured with it.
    expect(ids.nodeOf('credential', 'c9')).toBe('n9');
    ids.observe(event('AssociationRevoked', { associationId: 'a91' }));
    ids.observe(event('CredentialAssociationReleased', { associationId: 'a91', credentialId: 'c9' }));
    ids.observe(event('NodeAssociationReleased', { associationId: 'a91', nodeId: 'n9' }));
    expect(ids.size().associations).toBe(2);
    expect(await ids.pseudonymOf(deriver, 'association', 'a91')).toBe(named);
    // Its App-ID's release is the last frame that names it: named as before, then let go.
    ids.observe(event('ApplicationInstanceReleased', { associationId: 'a91', appId: 'R9' }));
    expect(await ids.pseudonymOf(deriver, 'association', 'a91')).toBe(named);
    expect(ids.size().associations).toBe(1);
    // An App-ID that ends releases nothing any more: its association goes once it ended and the others released it.
    ids.observe(event('ApplicationRevoked', { appId: 'R9', reason: 'privilegeWithdrawn' }));
    ids.observe(event('AssociationRevoked', { associationId: 'a92' }));
    ids.observe(event('CredentialAssociationReleased', { associationId: 'a92', credentialId: 'c9' }));
    expect(ids.size().associations).toBe(1);
    ids.observe(event('NodeAssociationReleased', { associationId: 'a92', nodeId: 'n9' }));
    expect(ids.size().associations).toBe(0);
  });

  it("ends a credential or an App-ID visiting its own associations only: 2,000 AE credentials of one gateway ending cost 2,000 visits, not 2,000 squared (review 45)", () => {
    const event = (type: string, data: Record<string, unknown>) => ({ type, data }) as unknown as DomainEvent;
    const N = 2_000;
    const ids = new PublicIdentities();
    ids.observe(event('NodeEnrolled', { nodeId: 'gw', subscriptionId: 's', cseId: '/cse-gw' }));
    for (let i = 0; i < N; i++) {
      const registree = { kind: 'ae', id: `Cae${i}`, appId: 'Rgw' };
      ids.observe(event('CredentialIssued', { credentialId: `c${i}`, owner: registree }));
      ids.observe(event('AssociationConfigured', { associationId: `a${i}`, nodeId: 'gw', credentialId: `c${i}`, registree, registrarCseId: '/in' }));
      ids.observe(event('AssociationEstablished', { associationId: `a${i}` }));
    }
    const visits: number[] = [];
    for (let i = 0; i < N; i++) {
      ids.observe(event('CredentialRevoked', { credentialId: `c${i}`, reason: 'keyCompromise' }));
      if (i === N / 2 - 1 || i === N - 1) visits.push(ids.holderEndVisits);
    }
    // One visit per credential's end, as many in the second half as in the first (the gateway's other associations
    // are never visited).
    expect(visits).toEqual([N / 2, N]);
    ids.observe(event('ApplicationRevoked', { appId: 'Rgw', reason: 'privilegeWithdrawn' }));
    expect(ids.holderEndVisits).toBe(2 * N);
    ids.observe(event('NodeRevoked', { nodeId: 'gw', reason: 'cessationOfOperation' }));
    expect(ids.holderEndVisits).toBe(3 * N);
  });

  it("lets a live node's ended credentials go: 1,000 rotations on one live node keep its one live credential, and those a raise may still come to (review 45, 210)", async () => {
    const event = (type: string, data: Record<string, unknown>) => ({ type, data }) as unknown as DomainEvent;
    const deriver = new PseudonymDeriver(key);
    const ids = new PublicIdentities();
    ids.observe(event('NodeEnrolled', { nodeId: 'n5', subscriptionId: 's', cseId: '/cse-5' }));
    ids.observe(event('CredentialIssued', { credentialId: 'r0', owner: { kind: 'node', id: 'n5' }, notAfter: at(10) }), Date.parse(T0));
    // A rotation a day, each credential valid for 10 days: one revoked as superseded may take its raise until then.
    for (let k = 1; k <= 1_000; k++) {
      const day = Date.parse(at(k));
      ids.observe(event('CredentialIssued', { credentialId: `r${k}`, owner: { kind: 'node', id: 'n5' }, predecessorId: `r${k - 1}`, notAfter: at(k + 10) }), day);
      ids.observe(event('CredentialRotationStarted', { credentialId: `r${k - 1}`, successorId: `r${k}`, overlapEndsAt: 'z' }), day);
      ids.observe(event('CredentialRevoked', { credentialId: `r${k - 1}`, reason: 'superseded' }), day);
      // The frame of the end still names the ended credential under its node.
      expect(await ids.pseudonymOf(deriver, 'credential', `r${k - 1}`)).toBe(await deriver.identifier('credential', `r${k - 1}`, 0, 'n5'));
    }
    expect(ids.size()).toMatchObject({ credentials: 11, endedCredentials: 10 });
    // Once no raise may come to them (their notAfter's day passed), only the live one stays.
    ids.observe(event('NodeEnrolled', { nodeId: 'n6', subscriptionId: 's', cseId: '/cse-6' }), Date.parse(at(1_020)));
    expect(ids.size()).toMatchObject({ credentials: 1, endedCredentials: 0 });
  });
});
