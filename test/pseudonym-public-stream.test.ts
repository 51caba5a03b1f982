import { describe, expect, it } from 'vitest';
import { firstValueFrom, take, toArray } from 'rxjs';
import { command } from '../domain/commands/index.ts';
import { FakeClock, DAY } from '../adapters/driven/clock/index.ts';
import { hmacSha256, isValidSigningPublicKey } from '../domain/crypto/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { identitiesUpTo, PseudonymDeriver, publicLifecycle, resolvePseudonym, type PseudonymKey, type PublicEvent } from '../projections/pseudonyms/index.ts';
import { at, auditor, fingerprint, operator, placeholderKey, T0 } from './support/fleet.ts';
import { fromBase64url } from '../domain/crypto/base64url.ts';
import { publicKeyFingerprint } from '../domain/crypto/fingerprint.ts';

/** An Ed25519 public key and the fingerprint issueCredential requires of it. */
const keyed = (publicKey: string) => ({ publicKey, fingerprint: publicKeyFingerprint('ed25519', fromBase64url(publicKey)) });
/** The `index`-th Ed25519 key whose first 31 bytes are 0..30 (review 201: issueCredential takes only points of the curve). */
const keyStartingAtZero = (index: number): string => {
  const keys = Array.from({ length: 128 }, (_, last) => Uint8Array.from([...Array(31).keys(), last])).filter((k) => isValidSigningPublicKey('ed25519', k));
  return Buffer.from(keys[index]!).toString('base64url');
};

const key: PseudonymKey = { prf: async (m) => hmacSha256(new Uint8Array(32).fill(0x5a), m) };
const op = { actor: operator };
const profile = (cls: string) => ({ class: cls, manufacturer: 'Acme', model: 'M-10', capabilities: ['metering'] });

/**
 * Every identifier here contains a 0, 1, 8 or 9, none of which is in the base32 alphabet, so a pseudonym can
 * never contain one by chance: any match in the scan is a real leak.
 */
const scenario = async (c: Credence, clock: FakeClock) => {
  const run = (type: Parameters<typeof command>[0], data: Record<string, unknown>) => c.engine.execute(command(type, data, op));
  await run('createSubscription', { subscriptionId: 'city-09', subscriber: 'City of Nowhere 09', notBefore: T0, notAfter: at(365) });
  for (const [index, node] of ['meter-01', 'meter-02', 'gateway-08'].entries()) {
    await run('registerNode', { nodeId: node, profile: profile(node.startsWith('meter') ? 'smart-meter' : 'gateway'), bootstrapCredentialId: `${node}-boot` });
    await run('issueCredential', {
      credentialId: `${node}-boot`, kind: 'ed25519', ...placeholderKey(`${node}-boot`), purpose: 'bootstrap', owner: { kind: 'node', id: node },
      notBefore: T0, notAfter: at(900),
      certificate: { fingerprint: fingerprint(91), subject: `CN=${node}`, issuer: 'CN=Acme IDevID CA 01', serialNumber: `${node}-serial`, notBefore: T0, notAfter: at(900) },
    });
    await run('provisionCredential', { credentialId: `${node}-boot`, method: 'pre-provisioning' });
    await run('enrolNode', { nodeId: node, subscriptionId: 'city-09', cseId: `/${node}-cse` });
    await run('issueCredential', {
      credentialId: `${node}-svc`, kind: 'ed25519', purpose: 'service', owner: { kind: 'node', id: node },
      // A key of its own each (SER-010: a key is certified once), all starting AAECAwQFBgcICQ as the scan below looks for.
      ...keyed(keyStartingAtZero(index)), notBefore: T0, notAfter: at(90),
    });
    await run('provisionCredential', { credentialId: `${node}-svc`, method: 'remote-provisioning', bootstrapCredentialId: `${node}-boot` });
  }
  await run('registerApplication', { appId: 'Rmetering', name: 'metering', provider: 'Acme' });
  await run('issueCredential', {
    credentialId: 'app-cred-01', kind: 'p256', ...placeholderKey('app-cred-01', 'p256'), purpose: 'application', owner: { kind: 'app', id: 'Rmetering' }, notBefore: T0, notAfter: at(300),
  });
  await run('provisionCredential', { credentialId: 'app-cred-01', method: 'pre-provisioning' });
  await run('enrolApplication', { appId: 'Rmetering', credentialId: 'app-cred-01' });
  await c.settle();
  // meter-01: a CSE association to the gateway's CSE and an AE association under the App-ID.
  await run('configureAssociation', {
    associationId: 'meter-01-sa', nodeId: 'meter-01', credentialId: 'meter-01-svc', registree: { kind: 'cse', id: '/meter-01-cse' }, registrarCseId: '/gateway-08-cse',
  });
  await c.settle();
  await run('establishAssociation', { associationId: 'meter-01-sa', expiresAt: at(30), transcriptHash: 'dHJhbnNjcmlwdC0wMQ'.padEnd(43, 'A') });
  await run('configureAssociation', {
    associationId: 'meter-01-ae-sa', nodeId: 'meter-01', credentialId: 'meter-01-svc', registree: { kind: 'ae', id: 'Cmeter-01-ae', appId: 'Rmetering' }, registrarCseId: '/in-cse-09',
  });
  await c.settle();
  await run('establishAssociation', { associationId: 'meter-01-ae-sa', expiresAt: at(30) });
  await run('configureAssociation', {
    associationId: 'gateway-08-sa', nodeId: 'gateway-08', credentialId: 'gateway-08-svc', registree: { kind: 'cse', id: '/gateway-08-cse' }, registrarCseId: '/in-cse-09',
  });
  await run('establishAssociation', { associationId: 'gateway-08-sa', expiresAt: at(30) });
  await c.settle();
  clock.set(at(2));
  await run('issueCredential', {
    credentialId: 'meter-02-svc-2', kind: 'ed25519', ...placeholderKey('meter-02-svc-2'), purpose: 'service', owner: { kind: 'node', id: 'meter-02' },
    notBefore: at(2), notAfter: at(120), predecessorId: 'meter-02-svc',
  });
  await run('startCredentialRotation', { credentialId: 'meter-02-svc', successorId: 'meter-02-svc-2', overlapEndsAt: at(9) });
  await run('revokeNode', { nodeId: 'gateway-08', reason: 'keyCompromise' });
  await c.settle();
  // Associations expire (day 30), then service credentials (day 90), meter-02-svc at the end of its overlap (day 9).
  for (const day of [31, 95]) {
    clock.set(at(day));
    await c.tick();
  }
};

/** Canonical identifiers in the stored events: every value of an identifier field (App-IDs are not among them). */
const canonicalIdentifiers = async (c: Credence): Promise<Set<string>> => {
  const fields = new Set(['nodeId', 'cseId', 'registrarCseId', 'aeId', 'subscriptionId', 'credentialId', 'associationId', 'bootstrapCredentialId', 'predecessorId', 'successorId']);
  const ids = new Set<string>();
  const walk = (value: unknown, key: string, parent: Record<string, unknown> | undefined): void => {
    if (typeof value === 'string') {
      if (fields.has(key)) ids.add(value);
      if (key === 'id' && parent !== undefined && parent['kind'] !== 'app') ids.add(value);
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, k, value as Record<string, unknown>);
    }
  };
  for await (const r of c.store.readAll()) if (!r.type.startsWith('Pseudonym')) walk(r.data, '', undefined);
  return ids;
};

/** Every key and every string value of an event, however deep. */
const strings = (value: unknown, out: string[] = []): string[] => {
  if (typeof value === 'string') out.push(value);
  else if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') out.push(String(value));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      strings(v, out);
    }
  }
  return out;
};

const open = () => {
  const clock = new FakeClock(T0);
  const c = openCredence({ location: { memory: true }, clock, pseudonyms: { key, policy: { classes: { 'smart-meter': { onAssociation: true } } } } });
  return { c, clock };
};

const publicHistory = (c: Credence, afterPosition?: bigint) =>
  firstValueFrom(publicLifecycle(c.store, new PseudonymDeriver(key), { live: false, ...(afterPosition !== undefined ? { afterPosition } : {}) }).pipe(toArray()));

describe('public lifecycle stream', () => {
  it('carries no canonical identifier, actor identity, fingerprint, key or certificate in any field of any event', async () => {
    const { c, clock } = open();
    await scenario(c, clock);
    const canonical = await canonicalIdentifiers(c);
    expect(canonical).toEqual(new Set([
      'city-09', 'meter-01', 'meter-02', 'gateway-08', 'meter-01-boot', 'meter-02-boot', 'gateway-08-boot', '/meter-01-cse', '/meter-02-cse', '/gateway-08-cse',
      'meter-01-svc', 'meter-02-svc', 'gateway-08-svc', 'app-cred-01', 'meter-01-sa', 'meter-01-ae-sa', 'gateway-08-sa', 'Cmeter-01-ae', '/in-cse-09', 'meter-02-svc-2',
    ]));
    const events = await publicHistory(c);
    const types = new Set(events.map((e) => e.type));
    for (const t of ['NodeRegistered', 'NodeEnrolled', 'CredentialIssued', 'CredentialProvisioned', 'AssociationConfigured', 'AssociationEstablished',
      'ApplicationInstanceAssociated', 'CredentialRotationStarted', 'NodeRevoked', 'CredentialRevoked', 'AssociationRevoked', 'AssociationExpired', 'CredentialExpired']) {
      expect(types, t).toContain(t);
    }
    expect(types).not.toContain('PseudonymRotated');

    const forbidden = [...canonical, operator.id, 'system:', 'sha256:', 'CN=', 'City of Nowhere', 'AAECAwQFBgcICQ', 'dHJhbnNjcmlwdC0wMQ', 'serial'];
    for (const event of events) {
      for (const text of strings(event)) {
        for (const id of forbidden) expect(text.includes(id), `${event.type} @${event.position}: "${text}" contains "${id}"`).toBe(false);
      }
    }
    await c.close();
  });

  it("uses each node's pseudonym of the epoch it was in, so the identifiers of two epochs do not link", async () => {
    const { c, clock } = open();
    await scenario(c, clock);
    const deriver = new PseudonymDeriver(key);
    const events = await publicHistory(c);
    const p0 = await deriver.node('meter-01', 0);
    const p1 = await deriver.node('meter-01', 1);
    const p2 = await deriver.node('meter-01', 2);
    const meter01: string[] = [p0, p1, p2];
    const subjects = (type: string) => events.filter((e) => e.type === type).map((e) => e.subject);
    expect(subjects('NodeRegistered')).toContain(p0);
    // Each association of a smart meter was configured under the pseudonym of the moment, then the meter rotated.
    const configured = events.filter((e) => e.type === 'AssociationConfigured' && meter01.includes((e.data as { nodeId: string }).nodeId));
    expect(configured.map((e) => meter01.indexOf((e.data as { nodeId: string }).nodeId))).toEqual([0, 1]);
    expect(events.filter((e) => e.type === 'NodeAssociated' && meter01.includes(e.subject)).map((e) => meter01.indexOf(e.subject))).toEqual([1, 2]);
    // meter-01's service credential and CSE-ID have other pseudonyms in epoch 0 than in epoch 2.
    const credentialNames = new Set(events.filter((e) => e.type.startsWith('Credential') && e.subject.startsWith('cred-')).map((e) => e.subject));
    // Named with their node since the review that found one AE-ID's credential shared by two nodes.
    const svc0 = await deriver.identifier('credential', 'meter-01-svc', 0, 'meter-01');
    const svc2 = await deriver.identifier('credential', 'meter-01-svc', 2, 'meter-01');
    expect(credentialNames).toContain(svc0);
    expect(credentialNames).toContain(svc2);
    expect(svc0).not.toBe(svc2);
    // The public pseudonym resolves, for an auditor, to the node.
    expect(await resolvePseudonym(c.engine, { pseudonym: p1, reason: 'unlinkability check', actor: auditor })).toMatchObject({ nodeId: 'meter-01', epoch: 1 });
    await c.close();
  });

  it("changes an AE's credential with its node's epoch, though the credential was issued before any event tied the AE to the node", async () => {
    // Found in review: such a credential kept one public name for good, and linked the node's epochs.
    const { c } = open();
    const run = (type: Parameters<typeof command>[0], data: Record<string, unknown>) => c.engine.execute(command(type, data, op));
    await run('createSubscription', { subscriptionId: 'city-09', subscriber: 'City of Nowhere 09', notBefore: T0, notAfter: at(365) });
    await run('registerNode', { nodeId: 'meter-01', profile: profile('smart-meter') });
    await run('enrolNode', { nodeId: 'meter-01', subscriptionId: 'city-09', cseId: '/meter-01-cse' });
    await run('registerApplication', { appId: 'Rmetering', name: 'metering', provider: 'Acme' });
    await run('issueCredential', {
      credentialId: 'app-cred-01', kind: 'p256', ...placeholderKey('app-cred-01', 'p256'), purpose: 'application', owner: { kind: 'app', id: 'Rmetering' }, notBefore: T0, notAfter: at(300),
    });
    await run('provisionCredential', { credentialId: 'app-cred-01', method: 'pre-provisioning' });
    await run('enrolApplication', { appId: 'Rmetering', credentialId: 'app-cred-01' });
    await run('issueCredential', {
      credentialId: 'ae-cred-01', kind: 'ed25519', ...placeholderKey('ae-cred-01'), purpose: 'service', owner: { kind: 'ae', id: 'Cmeter-01-ae', appId: 'Rmetering' },
      notBefore: T0, notAfter: at(90),
    });
    await run('provisionCredential', { credentialId: 'ae-cred-01', method: 'pre-provisioning' });
    await c.settle();
    for (const sa of ['ae-sa-1', 'ae-sa-2']) {
      await run('configureAssociation', {
        associationId: sa, nodeId: 'meter-01', credentialId: 'ae-cred-01', registree: { kind: 'ae', id: 'Cmeter-01-ae', appId: 'Rmetering' }, registrarCseId: '/in-cse-09',
      });
      await c.settle();
    }
    const events = await publicHistory(c);
    const configured = events.filter((e) => e.type === 'AssociationConfigured').map((e) => e.data as { nodeId: string; credentialId: string });
    expect(configured).toHaveLength(2);
    expect(configured[0]!.nodeId).not.toBe(configured[1]!.nodeId);
    expect(configured[0]!.credentialId).not.toBe(configured[1]!.credentialId);
    const deriver = new PseudonymDeriver(key);
    expect(configured.map((e) => e.credentialId)).toEqual([
      await deriver.identifier('credential', 'ae-cred-01', 0, 'meter-01'),
      await deriver.identifier('credential', 'ae-cred-01', 1, 'meter-01'),
    ]);
    await c.close();
  });

  it('gives a credential issued to the CSE-ID of a revoked node to the node that enrols with it next, and its epochs', async () => {
    // Found in review: the ended node kept the identifier in the public stream (the cascade lets it go), so the
    // replacement's credential stayed on the dead node's frozen epoch and linked the new node's epochs. Since review
    // 41 the credential names the node that holds the CSE-ID, so it is issued once meter-02 enrolled with it.
    const { c } = open();
    const run = (type: Parameters<typeof command>[0], data: Record<string, unknown>) => c.engine.execute(command(type, data, op));
    await run('createSubscription', { subscriptionId: 'city-09', subscriber: 'City of Nowhere 09', notBefore: T0, notAfter: at(365) });
    for (const node of ['meter-01', 'meter-02']) await run('registerNode', { nodeId: node, profile: profile('gateway') });
    await run('enrolNode', { nodeId: 'meter-01', subscriptionId: 'city-09', cseId: '/cse-09' });
    await run('revokeNode', { nodeId: 'meter-01', reason: 'keyCompromise' });
    await run('enrolNode', { nodeId: 'meter-02', subscriptionId: 'city-09', cseId: '/cse-09' });
    await run('issueCredential', {
      credentialId: 'for-replacement', kind: 'ed25519', ...placeholderKey('for-replacement'), purpose: 'service', owner: { kind: 'cse', id: '/cse-09', nodeId: 'meter-02' },
      notBefore: T0, notAfter: at(90),
    });
    await c.settle();
    const head = (await c.store.headPosition())!;
    expect((await identitiesUpTo(c.store, head))!.nodeOf('credential', 'for-replacement')).toBe('meter-02');
    await c.close();
  });

  it('resumes after any position exactly as an unbroken stream continues, then follows live', async () => {
    const { c, clock } = open();
    await scenario(c, clock);
    const all = await publicHistory(c);
    // Later resume points fold on from the furthest fold made; earlier ones fold from the start: both exact.
    for (const k of [0, 7, Math.floor(all.length / 2), all.length - 2, 3, Math.floor(all.length / 2) - 1, all.length - 3]) {
      expect(await publicHistory(c, all[k]!.position)).toEqual(all.slice(k + 1));
    }

    const last = all.at(-1)!.position;
    const live = firstValueFrom(publicLifecycle(c.store, new PseudonymDeriver(key), { afterPosition: last }).pipe(take(2), toArray()));
    clock.advance(DAY);
    await c.engine.execute(command('revokeCredential', { credentialId: 'meter-02-svc-2', reason: 'superseded' }, op));
    await c.engine.execute(command('revokeNode', { nodeId: 'meter-02', reason: 'cessationOfOperation' }, op));
    const received: PublicEvent[] = await live;
    expect(received.map((e) => e.type)).toEqual(['CredentialRevoked', 'NodeRevoked']);
    expect(received[1]!.subject).toBe(await new PseudonymDeriver(key).node('meter-02', 0));
    await c.close();
  });
});
