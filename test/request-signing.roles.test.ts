/**
 * Issue 11 item 1 (High): a signed request proves the actor's role, not only its id. A registered key names the
 * roles its actor may act in; a request claiming another role under that key is refused, and a stored event
 * recording one is `invalid` to the auditors' re-check. Key objects are strict.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { Actor } from '../domain/metadata.ts';
import { ExpectedRevision, type EventStore, type EventToAppend } from '../domain/ports/index.ts';
import { parseRequestSigningPolicy, requestVerifier, signCommand, storedSignatureCheck } from '../domain/signing/index.ts';
import { decodeStored } from '../domain/stored.ts';
import { currentVersionOf } from '../domain/upcasters.ts';
import { auditor, cmd, footprint, operator, T0 } from './support/fleet.ts';

const AUDIENCE = 'credence:city-utilities';
const alice = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const bob = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const policy = {
  audience: AUDIENCE,
  require: ['revokeNode' as const],
  keys: [
    { actorId: operator.id, roles: ['operator' as const], algorithm: 'ed25519' as const, publicKey: toBase64url(alice.publicKey) },
    { actorId: auditor.id, roles: ['auditor' as const], algorithm: 'ed25519' as const, publicKey: toBase64url(bob.publicKey) },
  ],
};

/** revokeNode under `actor`, signed with `secretKey` for this deployment at T0. */
const revokeSignedBy = (actor: Actor, secretKey: Uint8Array, nodeId = 'meter-1') =>
  signCommand(
    { ...command('revokeNode', { nodeId, reason: 'keyCompromise' }, { actor }), metadata: { actor, commandId: crypto.randomUUID() } },
    { algorithm: 'ed25519', secretKey },
    { audience: AUDIENCE, issuedAt: new Date(T0), lifetimeSeconds: 300 },
  );

/** Appends the event `request` would have recorded straight into the store, as a writer bypassing the engine could. */
const appendAsRecorded = async (store: EventStore, request: ReturnType<typeof revokeSignedBy>) => {
  const { commandId, actor, signature } = request.metadata;
  const metadata = {
    schemaVersion: currentVersionOf('NodeRevoked'), actor, commandId, commandType: 'revokeNode',
    correlationId: commandId, causationId: commandId, occurredAt: T0, signature,
  };
  const streamId = `node-${request.data.nodeId}`;
  await store.appendToStream(streamId, [{ id: crypto.randomUUID(), type: 'NodeRevoked', data: request.data as EventToAppend['data'], metadata }], { expectedRevision: ExpectedRevision.noStream });
  const [record] = await store.readStream(streamId);
  const decoded = decodeStored(record!);
  if (!decoded.ok) throw new Error(decoded.reason);
  return decoded.value;
};

describe('a request signature authenticates the actor role as well as the actor id (issue 11 item 1)', () => {
  it("refuses an auditor's key signing revokeNode under the operator role with bad_signature, writing nothing", async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0), verifyRequest: requestVerifier(policy) });
    await engine.execute(cmd.createSubscription());
    await engine.execute(cmd.registerNode('meter-1'));
    const before = await footprint(store);

    const escalated = revokeSignedBy({ id: auditor.id, role: 'operator' }, bob.secretKey);
    const error = await engine.execute(escalated).then(() => undefined, (e: unknown) => e);
    expect(isCredenceError(error, 'bad_signature'), String(error)).toBe(true);
    expect(String(error)).toContain(`registered for the role(s) auditor, not operator`);
    expect(await footprint(store)).toEqual(before);

    // The operator's own key, under the operator role, is accepted: only the role refused the auditor.
    const outcome = await engine.execute(revokeSignedBy(operator, alice.secretKey));
    expect(outcome.events[0]?.metadata['actor']).toEqual(operator);
    await store.close();
  });

  it('the stored-signature check says invalid for an event recorded under a role its key is not registered for', async () => {
    const store = openSqliteStore({ memory: true });
    const check = storedSignatureCheck(policy);
    const escalated = await appendAsRecorded(store, revokeSignedBy({ id: auditor.id, role: 'operator' }, bob.secretKey, 'meter-1'));
    const genuine = await appendAsRecorded(store, revokeSignedBy(operator, alice.secretKey, 'meter-2'));
    expect(check(escalated)).toBe('invalid');
    expect(check(genuine)).toBe('verified');
    await store.close();
  });

  it('key objects are strict and name their roles: an unknown field, no roles or the system role is a validation error', () => {
    const key = policy.keys[0]!;
    const issuesOf = (keys: unknown[]) => {
      try {
        parseRequestSigningPolicy({ audience: AUDIENCE, keys });
        return [];
      } catch (error) {
        return isCredenceError(error) && error.problem.code === 'validation' ? error.problem.issues.map((i) => i.path) : [String(error)];
      }
    };
    expect(issuesOf([{ ...key, tenant: 'city-utilities' }])).toEqual(['keys.0']);
    expect(issuesOf([{ ...key, roles: undefined }])).toEqual(['keys.0.roles']);
    expect(issuesOf([{ ...key, roles: [] }])).toEqual(['keys.0.roles']);
    expect(issuesOf([{ ...key, roles: ['system'] }])).toEqual(['keys.0.roles.0']);
    expect(issuesOf([key])).toEqual([]);
  });
});
