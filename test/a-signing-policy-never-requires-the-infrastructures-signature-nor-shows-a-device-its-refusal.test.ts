/**
 * Review 145, finding 2: the Enrolment Function and the Registrar CSE record what they do for a device as
 * `maf:infrastructure` (role operator), which holds no key, and only the `system` role was exempt. So a policy requiring
 * `provisionCredential` (or `require: "all"`) refused every device provisioning, and a device was answered 422
 * `bad_signature`, its protocol's word for a failed proof of its own, with the policy's reason in the detail. The
 * infrastructure actor is now exempt by its id (not by its role: every human operator would be too), and a signing
 * refusal of a command the infrastructure records for a device is a server fault, no policy detail to the device.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { INFRASTRUCTURE_ACTOR_ID as RESERVED_INFRASTRUCTURE_ID } from '../adapters/http/auth/reserved-subjects.ts';
import { mapRaisedError } from '../adapters/http/map-raised-error.ts';
import { INFRASTRUCTURE_ACTOR } from '../adapters/http/start.ts';
import { Device } from '../adapters/protocols/procedures/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { toBase64url } from '../domain/crypto/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { Actor } from '../domain/metadata.ts';
import { INFRASTRUCTURE_ACTOR_ID, type RequestSigningPolicyInput } from '../domain/signing/index.ts';
import { seededRandom } from './crypto-fixtures.ts';
import { at, operator, profile, T0 } from './support/fleet.ts';
import { InspectableSecureEnvironment } from './support/inspectable-secure-environment.ts';

/** What the procedures record for a device, all required to be signed; the operator's own commands are not. */
const policy: RequestSigningPolicyInput = {
  audience: 'credence:city-utilities',
  require: ['registerNode', 'issueCredential', 'provisionCredential', 'revokeCredential', 'configureAssociation', 'establishAssociation'],
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A deployment under `policy` whose procedures act as `actor`, a subscription, and one device of the factory. */
const deployment = async (actor: Actor) => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-signed-procedures-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const clock = new FakeClock(T0);
  const random = seededRandom('signed-procedures/random');
  const sealed = (name: string, seed: string) =>
    InspectableSecureEnvironment.open(
      { database: join(dir, `${name}.sqlite`), kek: { source: 'inline', key: toBase64url(seededRandom(`${seed}/kek`)(32)) } },
      { now: () => clock.now(), random: seededRandom(seed) },
    );
  const infraSe = sealed('infrastructure-se', 'signed-procedures/infrastructure');
  cleanups.push(() => infraSe.close());
  const credence = openCredence({ location: { dir }, clock, signing: policy, security: { se: infraSe, random, actor } });
  cleanups.push(() => credence.close());
  const { procedures } = await credence.security();
  await credence.engine.execute({
    type: 'createSubscription',
    data: { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: T0, notAfter: at(2 * 365) },
    metadata: { actor: operator },
  });
  const deviceSe = sealed('meter-1-se', 'signed-procedures/meter-1');
  cleanups.push(() => deviceSe.close());
  const device = new Device({ nodeId: 'meter-1', se: deviceSe, now: () => clock.now(), random: seededRandom('signed-procedures/meter-1/protocol') });
  return { credence, procedures, device };
};

describe('a request-signing policy and the security procedures (review 145)', () => {
  it('exempts the infrastructure actor by its id, the one the service records device procedures under', async () => {
    expect(INFRASTRUCTURE_ACTOR).toEqual({ id: INFRASTRUCTURE_ACTOR_ID, role: 'operator' });
    expect(RESERVED_INFRASTRUCTURE_ID).toBe(INFRASTRUCTURE_ACTOR_ID);

    const { credence, procedures, device } = await deployment(INFRASTRUCTURE_ACTOR);
    await procedures.preProvision({ device, profile, bootstrapCredentialId: 'meter-1-boot', kind: 'ed25519', validity: { notBefore: T0, notAfter: at(5 * 365) } });
    await credence.engine.execute({ type: 'enrolNode', data: { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: '/meter-1-cse' }, metadata: { actor: operator } });
    await procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'ed25519' });
    await procedures.associate({ device, associationId: 'sa-1', credentialId: 'meter-1-svc', lifetimeSeconds: 3600 });

    expect(String((await credence.engine.entity('credential', 'meter-1-svc')).snapshot.value)).toBe('enrolled');
    expect(String((await credence.engine.entity('association', 'sa-1')).snapshot.value)).toBe('associated');
    // A human operator is not exempt: only the id is, not the role it acts in.
    const refused = await credence.engine
      .execute({ type: 'revokeCredential', data: { credentialId: 'meter-1-svc', reason: 'keyCompromise' }, metadata: { actor: operator } })
      .then(() => undefined, (e: unknown) => e);
    expect(isCredenceError(refused, 'bad_signature'), String(refused)).toBe(true);
  });

  it('answers a device a server fault, never its protocol\'s bad_signature, when the policy refuses what the infrastructure records', async () => {
    // A library deployment whose procedures act under another id than the exempt one, holding no key either.
    const { credence, procedures, device } = await deployment({ id: 'operator:infrastructure-elsewhere', role: 'operator' });
    const head = await credence.store.headPosition();
    const failed = await procedures
      .preProvision({ device, profile, bootstrapCredentialId: 'meter-1-boot', kind: 'ed25519', validity: { notBefore: T0, notAfter: at(5 * 365) } })
      .then(() => undefined, (e: unknown) => e);

    expect(failed).toBeInstanceOf(Error);
    expect(isCredenceError(failed), String(failed)).toBe(false);
    expect(String(failed)).toMatch(/registerNode was refused: .*must be signed by operator:infrastructure-elsewhere/);
    // What the service answers a device with: a server fault, its detail the generic one, nothing of the policy.
    const mapped = mapRaisedError(failed);
    expect({ status: mapped.status, code: mapped.code }).toEqual({ status: 500, code: 'internal' });
    expect(mapped.detail).not.toMatch(/sign|operator|policy/i);
    expect(await credence.store.headPosition()).toBe(head);
  });
});
