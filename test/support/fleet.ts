import { createHash } from 'node:crypto';
import { isCredenceError, type CredenceError } from '../../domain/errors.ts';
import { command } from '../../domain/commands/index.ts';
import type { Actor } from '../../domain/metadata.ts';
import { FakeClock, DAY } from '../../adapters/driven/clock/index.ts';
import { createEngine, type Engine } from '../../adapters/engine/index.ts';
import { openSqliteStore } from '../../adapters/driven/store/index.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { publicKeyFingerprint } from '../../domain/crypto/fingerprint.ts';
import { signingPublicKey } from '../../domain/crypto/signatures.ts';

export const operator: Actor = { id: 'operator:alice', role: 'operator' };
export const auditor: Actor = { id: 'auditor:bob', role: 'auditor' };
export const system: Actor = { id: 'system:process-manager', role: 'system' };

export const T0 = '2026-01-01T00:00:00.000Z';
export const at = (days: number): string => new Date(Date.parse(T0) + days * DAY).toISOString();

export const profile = { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] };
export const fingerprint = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

/**
 * A stand-in public key of its own for each name, and its fingerprint, the SHA-256 of its SubjectPublicKeyInfo, which
 * issueCredential requires the fingerprint to be. A real key (of a secret hashed from the name, held by no one): since
 * review 201 issueCredential refuses bytes that are no point of the curve, as hashed bytes mostly were.
 */
export const placeholderKey = (name: string, kind: 'ed25519' | 'p256' = 'ed25519'): { readonly publicKey: string; readonly fingerprint: string } => {
  const secret = createHash('sha256').update(`credence/test/placeholder-${kind}:${name}`).digest();
  const raw = signingPublicKey(kind, new Uint8Array(secret));
  return { publicKey: Buffer.from(raw).toString('base64url'), fingerprint: publicKeyFingerprint(kind, raw) };
};

/**
 * The data of an issueCredential for a node's service credential (a placeholder Ed25519 key of its own), valid from
 * `notBefore` to `notAfter`: shared by the engine fixtures here, the SSE fixtures (commands) and the HTTP conformance
 * fixtures (request bodies), which date it from the wall clock.
 */
export const issueCredentialData = (credentialId: string, nodeId: string, validity: { readonly notBefore: string; readonly notAfter: string }) => ({
  credentialId,
  kind: 'ed25519',
  ...placeholderKey(credentialId),
  purpose: 'service',
  owner: { kind: 'node', id: nodeId },
  notBefore: validity.notBefore,
  notAfter: validity.notAfter,
});

export interface Fixture {
  store: EventStore;
  clock: FakeClock;
  engine: Engine;
}

export const fixture = (store: EventStore = openSqliteStore({ memory: true })): Fixture => {
  const clock = new FakeClock(T0);
  return { store, clock, engine: createEngine({ store, clock }) };
};

/** Operator commands for a typical node: subscription, factory registration, enrolment, service credential. */
export const cmd = {
  createSubscription: (subscriptionId = 'sub-1', notAfter = at(365)) =>
    command('createSubscription', { subscriptionId, subscriber: 'City Utilities', notBefore: T0, notAfter }, { actor: operator }),
  registerNode: (nodeId = 'meter-1') => command('registerNode', { nodeId, profile }, { actor: operator }),
  enrolNode: (nodeId = 'meter-1', subscriptionId = 'sub-1') =>
    command('enrolNode', { nodeId, subscriptionId, cseId: `/cse-${nodeId}` }, { actor: operator }),
  issueCredential: (credentialId = 'cred-1', nodeId = 'meter-1', notAfter = at(90), extra: Record<string, unknown> = {}) =>
    command('issueCredential', { ...issueCredentialData(credentialId, nodeId, { notBefore: T0, notAfter }), ...extra }, { actor: operator }),
  provisionCredential: (credentialId = 'cred-1') =>
    command('provisionCredential', { credentialId, method: 'pre-provisioning' }, { actor: operator }),
  configureAssociation: (associationId = 'sa-1', credentialId = 'cred-1', nodeId = 'meter-1') =>
    command(
      'configureAssociation',
      { associationId, nodeId, credentialId, registree: { kind: 'cse', id: `/cse-${nodeId}` }, registrarCseId: '/in-cse' },
      { actor: operator },
    ),
  establishAssociation: (associationId = 'sa-1', expiresAt = at(30)) =>
    command('establishAssociation', { associationId, expiresAt }, { actor: operator }),
  revokeCredential: (credentialId = 'cred-1', reason = 'keyCompromise') =>
    command('revokeCredential', { credentialId, reason }, { actor: operator }),
  revokeAssociation: (associationId = 'sa-1', reason = 'keyCompromise') =>
    command('revokeAssociation', { associationId, reason }, { actor: operator }),
  startCredentialRotation: (overlapEndsAt: string, credentialId = 'cred-1', successorId = 'cred-2') =>
    command('startCredentialRotation', { credentialId, successorId, overlapEndsAt }, { actor: operator }),
};

/** Runs the usual path up to an established association sa-1 on cred-1 of meter-1. */
export const establishOne = async (engine: Engine): Promise<void> => {
  for (const c of [
    cmd.createSubscription(),
    cmd.registerNode(),
    cmd.enrolNode(),
    cmd.issueCredential(),
    cmd.provisionCredential(),
    cmd.configureAssociation(),
    cmd.establishAssociation(),
  ]) {
    await engine.execute(c);
  }
};

/**
 * meter-1 with cred-1 provisioned and sa-1 established on it (expiring at(60)); cred-2 its successor (valid to at(90)),
 * provisioned; a rotation of cred-1 onto cred-2 whose overlap ends at(30).
 */
export const rotateOne = async (engine: Pick<Engine, 'execute'>): Promise<void> => {
  for (const x of [
    cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1'),
    cmd.configureAssociation('sa-1', 'cred-1'), cmd.establishAssociation('sa-1', at(60)),
    cmd.issueCredential('cred-2', 'meter-1', at(90), { predecessorId: 'cred-1' }), cmd.provisionCredential('cred-2'),
    cmd.startCredentialRotation(at(30)),
  ]) await engine.execute(x);
};

/** Takes registered meter-`n` to an established association sa-`n` on its service credential cred-`n`. */
export const establishMeter = async (engine: Pick<Engine, 'execute'>, n: number): Promise<void> => {
  const [node, cred, sa] = [`meter-${n}`, `cred-${n}`, `sa-${n}`];
  for (const c of [
    cmd.enrolNode(node), cmd.issueCredential(cred, node), cmd.provisionCredential(cred), cmd.configureAssociation(sa, cred, node), cmd.establishAssociation(sa),
  ]) {
    await engine.execute(c);
  }
};

/** A fleet of `nodes` meters (meter-1 ...), each registered and taken to an established association, over `store`. */
export const establishedFleet = async (nodes: number, store?: EventStore): Promise<Fixture> => {
  const f = fixture(store);
  await f.engine.execute(cmd.createSubscription());
  for (let n = 1; n <= nodes; n++) {
    await f.engine.execute(cmd.registerNode(`meter-${n}`));
    await establishMeter(f.engine, n);
  }
  return f;
};

/** Event count and head position: "nothing was written" means both are unchanged. */
export const footprint = async (store: EventStore): Promise<{ head: bigint | undefined; count: number }> => {
  let count = 0;
  for await (const _ of store.readAll()) count++;
  return { head: await store.headPosition(), count };
};

/** Awaits a command that must be refused; returns its CredenceError (anything else fails the test). */
export const rejection = async (promise: Promise<unknown>): Promise<CredenceError> => {
  try {
    await promise;
  } catch (error) {
    if (isCredenceError(error)) return error;
    throw error;
  }
  throw new Error('expected the command to be rejected');
};
