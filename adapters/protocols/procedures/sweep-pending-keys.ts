import { clientCommandId } from '../../../domain/event-ids.ts';
import { command } from '../../../domain/commands/index.ts';
import { parseStreamId } from '../../../domain/streams.ts';
import type { LoadedEntity } from '../../../machines/index.ts';
import type { InfrastructureOptions } from './infrastructure-options.ts';
import { destroyOrOwe } from './shredder.ts';

/**
 * The event that makes a pending key binding its entity's, by purpose: a PSK copy once the credential is provisioned,
 * the Registrar's session keys once the association is established.
 */
const CONFIRMED_BY: Readonly<Record<string, string>> = { psk: 'CredentialProvisioned', session: 'AssociationEstablished' };

/**
 * Whether `credential` is one a remote provisioning issued and never provisioned: still `initialized`, its
 * `CredentialIssued` recorded by this infrastructure's actor for a service or application credential (an operator's
 * issue awaiting a manual provision has another actor; a factory's pre-provisioned bootstrap has purpose `bootstrap`).
 */
const issuedByRemoteProvisioning = (credential: LoadedEntity, o: InfrastructureOptions): boolean => {
  if (String(credential.snapshot.value) !== 'initialized') return false;
  const issued = credential.events.find((e) => e.event.type === 'CredentialIssued');
  if (issued === undefined || issued.metadata.actor.id !== o.actor.id) return false;
  return (issued.event.data as { purpose?: string }).purpose !== 'bootstrap';
};

/**
 * Ends a credential whose remote provisioning died between its two appends (record.ts): issued, never provisioned,
 * its PSK copy about to be destroyed, so it can never be used. Left `initialized` it held its id until notAfter and a
 * device's rerun took it for recorded; revoked (`cessationOfOperation`, RFC 5280 5.3.1), a certificate issued for it
 * is on the CRLs. The command id is derived from the credential: a start that dies after this append and sweeps again
 * records nothing more.
 */
const revokeUnprovisioned = async (o: InfrastructureOptions, credentialId: string): Promise<void> => {
  const commandId = clientCommandId('start-sweep/revoke-unprovisioned', credentialId);
  await o.engine.execute(command('revokeCredential', { credentialId, reason: 'cessationOfOperation' }, { actor: o.actor, commandId }));
};

/**
 * On start: a key binding still pending belongs to a run of an earlier process that cannot complete any more
 * (its session, in memory, is gone). Its key is destroyed, unless the engine did record the event that makes it
 * the entity's (the process died between that append and the confirmation): then the binding is confirmed. A PSK
 * copy of a credential the remote provisioning issued but did not provision (the process died between
 * `CredentialIssued` and `CredentialProvisioned`) ends its credential first, revoked: the revocation is recorded
 * before the key goes, so a start that dies in between finds the key still pending and does the rest.
 */
export const sweepPendingKeys = async (o: InfrastructureOptions): Promise<void> => {
  for (const binding of o.registry.pending()) {
    const ref = parseStreamId(binding.stream);
    const confirmedBy = CONFIRMED_BY[binding.purpose];
    const entity = ref === undefined ? undefined : await o.engine.entity(ref.kind, ref.id);
    if (confirmedBy !== undefined && entity?.events.some((e) => e.event.type === confirmedBy)) {
      o.registry.confirm(binding.stream, binding.handle);
      continue;
    }
    if (binding.purpose === 'psk' && ref?.kind === 'credential' && entity !== undefined && issuedByRemoteProvisioning(entity, o)) {
      await revokeUnprovisioned(o, ref.id);
    }
    // One the Secure Environment refuses is owed, not a start that fails: the shredder retries it.
    await destroyOrOwe(o.se, o.registry, binding.stream, binding.handle, o.engine.clock.now());
  }
};
