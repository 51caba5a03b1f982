import { EmbeddedSecureEnvironment } from '../../adapters/driven/secure-environment/index.ts';
import { Device } from '../../adapters/protocols/procedures/index.ts';
import type { Security } from '../../adapters/runtime/credence.ts';
import { systemRandom } from '../../adapters/runtime/index.ts';
import { operator, profile } from './fleet.ts';
import type { TestService } from './service.ts';

const DAY = 86_400_000;

export interface AssociatedMetersOptions {
  /** Every device on one Secure Environment rather than one each (a test that never looks at the devices' keys). */
  readonly oneSecureEnvironment?: boolean;
}

/**
 * Meters with a PSK service credential and an association established over it, through `service`'s own security
 * procedures, so that its keys.db binds each PSK copy and the session keys: sub-1 created (from a day ago to a year
 * on), then for each of `nodeIds`, in order, a device pre-provisioned with its ed25519 bootstrap credential
 * `<nodeId>-boot`, enrolled under sub-1, `<nodeId>-svc` provisioned remotely and `<nodeId>-sa` established over it
 * for a day. The devices' Secure Environments (in memory) go on `devices`, for the caller to close. The wall clock
 * throughout: the service runs on it. Returns the service's security procedures.
 */
export const associatedMeters = async (
  service: TestService,
  devices: EmbeddedSecureEnvironment[],
  nodeIds: readonly string[],
  options: AssociatedMetersOptions = {},
): Promise<Security> => {
  const now = Date.now();
  const security = await service.service.context.credence.security();
  const { procedures } = security;
  const { engine } = service.service.context.credence;
  const validity = { notBefore: new Date(now - DAY).toISOString(), notAfter: new Date(now + 365 * DAY).toISOString() };
  await engine.execute({ type: 'createSubscription', data: { subscriptionId: 'sub-1', subscriber: 'City Utilities', ...validity }, metadata: { actor: operator } });
  const openSe = (): EmbeddedSecureEnvironment => {
    const se = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => new Date(), random: systemRandom });
    devices.push(se);
    return se;
  };
  const shared = options.oneSecureEnvironment === true ? openSe() : undefined;
  for (const nodeId of nodeIds) {
    const device = new Device({ nodeId, se: shared ?? openSe(), now: () => new Date(), random: systemRandom });
    await procedures.preProvision({ device, profile, bootstrapCredentialId: `${nodeId}-boot`, kind: 'ed25519', validity });
    await engine.execute({ type: 'enrolNode', data: { nodeId, subscriptionId: 'sub-1', cseId: `/${nodeId}-cse` }, metadata: { actor: operator } });
    await procedures.provisionRemotely({ device, credentialId: `${nodeId}-svc`, kind: 'psk256' });
    await procedures.associate({ device, associationId: `${nodeId}-sa`, credentialId: `${nodeId}-svc`, lifetimeSeconds: 86_400 });
  }
  return security;
};
