/**
 * What machines v2 stored and v3 refuse in part (review 195, keyIsNew): cred-2, cred-1's successor, on cred-1's key,
 * then events on cred-2 (an association configured and established on it, its revocation) that replay refuses because
 * it holds cred-2 unrecorded, and one broken history no earlier finding explains (sa-1 established twice).
 */
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, issueCredentialData, operator, profile, T0 } from './support/fleet.ts';

/** Given: meter-1 with cred-1 provisioned and sa-1 on it, as the engine writes them. */
export const fleet = async (store: EventStore) => {
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  const factory = command('issueCredential', { ...issueCredentialData('boot-1', 'meter-1', { notBefore: T0, notAfter: at(90) }), purpose: 'bootstrap' }, { actor: operator });
  const registered = command('registerNode', { nodeId: 'meter-1', profile, bootstrapCredentialId: 'boot-1' }, { actor: operator });
  for (const c of [cmd.createSubscription(), registered, factory, cmd.provisionCredential('boot-1'), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1'), cmd.configureAssociation('sa-1', 'cred-1')]) {
    await engine.execute(c);
  }
};

/** What v2 stored: cred-2, cred-1's successor, on cred-1's key (refused since v3 by keyIsNew). */
export const successorOnItsPredecessorsKey = async (store: EventStore) => {
  const old = issueCredentialData('cred-1', 'meter-1', { notBefore: T0, notAfter: at(90) });
  const data = { ...issueCredentialData('cred-2', 'meter-1', { notBefore: T0, notAfter: at(90) }), publicKey: old.publicKey, fingerprint: old.fingerprint, predecessorId: 'cred-1' };
  return forge(store, 'credential-cred-2', 'CredentialIssued', data, at(1));
};

/** What v2 stored next on cred-2: an association configured and established on it, then cred-2's revocation. */
export const laterEventsOnIt = async (store: EventStore) => {
  const configured = (await store.readStream('association-sa-1'))[0]!.data as Record<string, unknown>;
  const config = await forge(store, 'association-sa-2', 'AssociationConfigured', { ...configured, associationId: 'sa-2', credentialId: 'cred-2' } as never, at(2));
  const established = await forge(store, 'association-sa-2', 'AssociationEstablished', { associationId: 'sa-2', expiresAt: at(20) }, at(3));
  const revoked = await forge(store, 'credential-cred-2', 'CredentialRevoked', { credentialId: 'cred-2', reason: 'keyCompromise' }, at(4));
  // And one no earlier finding explains: sa-1 established twice.
  await forge(store, 'association-sa-1', 'AssociationEstablished', { associationId: 'sa-1', expiresAt: at(20) }, at(5));
  const tampered = await forge(store, 'association-sa-1', 'AssociationEstablished', { associationId: 'sa-1', expiresAt: at(20) }, at(6));
  return { consequences: [config.position, established.position, revoked.position], tampered: tampered.position };
};
