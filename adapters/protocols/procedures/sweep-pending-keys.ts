import { isCredenceError } from '../../../domain/errors.ts';
import type { KeyHandle } from '../../../domain/ports/index.ts';
import { parseStreamId } from '../../../domain/streams.ts';
import type { LoadedEntity } from '../../../machines/index.ts';
import { issuedByRemoteProvisioning, revokeUnprovisioned, runOver, sweepCutKeyPairRuns } from './cut-provisioning.ts';
import type { InfrastructureOptions } from './infrastructure-options.ts';
import { destroyOrOwe } from './shredder.ts';
import { throwFailures, type SweepFailure } from './sweep-failures.ts';

/**
 * The event that makes a pending key binding its entity's, by purpose: a PSK copy once the credential is provisioned,
 * the Registrar's session keys once the association is established.
 */
const CONFIRMED_BY: Readonly<Record<string, string>> = { psk: 'CredentialProvisioned', session: 'AssociationEstablished' };

/**
 * Whether a PSK copy is the key its credential's `CredentialIssued` records, by fingerprint. A copy another run of the
 * same id left pending is not (review 138: a twin run refused at its receipt, its process dead before it destroyed its
 * copy); confirmed, it was a second live PSK of the credential, one the device never kept, which the Registrar picked
 * by handle order about half the time.
 */
const isRecordedPsk = async (o: InfrastructureOptions, credential: LoadedEntity, handle: string): Promise<boolean> => {
  const issued = credential.events.find((e) => e.event.type === 'CredentialIssued');
  const recorded = (issued?.event.data as { fingerprint?: string } | undefined)?.fingerprint;
  if (recorded === undefined) return false;
  try {
    return (await o.se.describe(handle as KeyHandle)).fingerprint === recorded;
  } catch (error) {
    // Gone already: nothing to confirm, and its binding is marked destroyed with the others.
    if (isCredenceError(error, 'not_found')) return false;
    throw error;
  }
};

/**
 * On start: a key binding still pending belongs to a run of an earlier process that cannot complete any more
 * (its session, in memory, is gone). Its key is destroyed, unless the engine did record the event that makes it
 * the entity's (the process died between that append and the confirmation): then the binding is confirmed, a PSK
 * copy only when it is the key the credential records (`isRecordedPsk`). A PSK copy of a credential the remote
 * provisioning issued but did not provision (the process died between
 * `CredentialIssued` and `CredentialProvisioned`) ends its credential first, revoked (cut-provisioning.ts): the
 * revocation is recorded before the key goes, so a start that dies in between finds the key still pending and does the
 * rest. A key pair's run, of which the server keeps no key, is found by the record it began with (`sweepCutKeyPairRuns`).
 *
 * At the tick (`beside_live_runs`, review 400 F2): this process's own runs are live, so only a PSK copy whose
 * credential's run is over by the clock (`runOver`: issued at least the session timeout ago) is settled, the same way;
 * a run whose second append failed with an outcome it could not know left it pending, its credential `initialized`
 * until a restart, while a key pair's such run was ended at the tick. Other pending keys wait for the start.
 *
 * Either way a binding or run that cannot be settled does not hold up the others (review 405 F2): all are tried, then
 * what failed is thrown (`throwFailures`: one typed error when all failed alike, else a bounded AggregateError, review
 * 412 F2), and tried again at the next tick or start.
 */
export const sweepPendingKeys = async (o: InfrastructureOptions, beside: 'at_start' | 'beside_live_runs' = 'at_start'): Promise<void> => {
  // Each binding settled on its own (review 405 F2): one that throws (the Secure Environment failing to describe its
  // copy, its entity's load, a refused revocation) left every later one pending and the key pairs' runs unswept, at
  // every tick, for as long as it failed. Its failure is reported at the end; it is tried again at the next sweep.
  const failures: SweepFailure[] = [];
  for (const binding of o.registry.pending()) {
    try {
      await settle(o, binding, beside);
    } catch (error) {
      failures.push({ what: `the pending ${binding.purpose} key ${binding.handle} of ${binding.stream}`, error });
    }
  }
  failures.push(...(await sweepCutKeyPairRuns(o, beside)));
  throwFailures(failures, 'pending keys or key pair runs could not be settled by the sweep, each tried again at the next one');
};

const settle = async (o: InfrastructureOptions, binding: { stream: string; handle: string; purpose: string }, beside: 'at_start' | 'beside_live_runs'): Promise<void> => {
  const ref = parseStreamId(binding.stream);
  const confirmedBy = CONFIRMED_BY[binding.purpose];
  if (beside === 'beside_live_runs' && (binding.purpose !== 'psk' || ref?.kind !== 'credential')) return;
  const entity = ref === undefined ? undefined : await o.engine.entity(ref.kind, ref.id);
  if (beside === 'beside_live_runs' && (entity === undefined || !runOver(entity, o.engine.clock.now()))) return;
  if (confirmedBy !== undefined && entity?.events.some((e) => e.event.type === confirmedBy)) {
    if (binding.purpose !== 'psk' || (await isRecordedPsk(o, entity, binding.handle))) {
      o.registry.confirm(binding.stream, binding.handle);
      return;
    }
  }
  if (binding.purpose === 'psk' && ref?.kind === 'credential' && entity !== undefined && issuedByRemoteProvisioning(entity, o)) {
    await revokeUnprovisioned(o, ref.id);
  }
  // One the Secure Environment refuses is owed, not a start that fails: the shredder retries it.
  await destroyOrOwe(o.se, o.registry, binding.stream, binding.handle, o.engine.clock.now());
};
