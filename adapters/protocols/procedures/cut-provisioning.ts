import { clientCommandId } from '../../../domain/event-ids.ts';
import { command } from '../../../domain/commands/index.ts';
import type { LoadedEntity } from '../../../machines/index.ts';
import { executeForDevice } from './infrastructure-command.ts';
import type { InfrastructureOptions } from './infrastructure-options.ts';
import type { KeyPairRun } from './key-registry.ts';
import type { SweepFailure } from './sweep-failures.ts';

/**
 * How long the Enrolment Function keeps a run's session (infrastructure.ts gives it this one): a run whose
 * `CredentialIssued` is older is over, whatever process ran it.
 */
export const ENROLMENT_SESSION_TIMEOUT_SECONDS = 120;

/**
 * Whether `credential` is one a remote provisioning issued and never provisioned: still `initialized`, its
 * `CredentialIssued` recorded by this infrastructure's actor for a service or application credential (an operator's
 * issue awaiting a manual provision has another actor; a factory's pre-provisioned bootstrap has purpose `bootstrap`).
 */
export const issuedByRemoteProvisioning = (credential: LoadedEntity, o: InfrastructureOptions): boolean => {
  if (String(credential.snapshot.value) !== 'initialized') return false;
  const issued = credential.events.find((e) => e.event.type === 'CredentialIssued');
  if (issued === undefined || issued.metadata.actor.id !== o.actor.id) return false;
  return (issued.event.data as { purpose?: string }).purpose !== 'bootstrap';
};

/**
 * Ends a credential whose remote provisioning died between its two appends (record.ts): issued, never provisioned,
 * so it can never be used. Left `initialized` it held its id until notAfter and a device's rerun took it for
 * recorded; revoked (`cessationOfOperation`, RFC 5280 5.3.1), a certificate issued for it is on the CRLs. The command
 * id is derived from the credential: a start that dies after this append and sweeps again records nothing more.
 */
export const revokeUnprovisioned = async (o: InfrastructureOptions, credentialId: string): Promise<void> => {
  const commandId = clientCommandId('start-sweep/revoke-unprovisioned', credentialId);
  await executeForDevice(o.engine, command('revokeCredential', { credentialId, reason: 'cessationOfOperation' }, { actor: o.actor, commandId }));
};

/**
 * Whether the run that issued `credential` is over by the clock: issued at least the Enrolment Function's session
 * timeout ago. At a start it always is in effect (one service per data folder, its lock: no other process runs one);
 * the clock says so too, so a sweep run beside a live run (an instance opened on a folder without the lock, or the
 * tick's, sweep-pending-keys.ts) never cuts it.
 */
export const runOver = (credential: LoadedEntity, now: Date): boolean => {
  const issued = credential.events.find((e) => e.event.type === 'CredentialIssued');
  return issued !== undefined && new Date(issued.metadata.occurredAt).getTime() + ENROLMENT_SESSION_TIMEOUT_SECONDS * 1000 <= now.getTime();
};

/**
 * On start: the key pairs' runs an earlier process began and did not end (KeyRegistry.beginKeyPairRun). A credential
 * such a run issued and never provisioned is revoked as a PSK's is (sweep-pending-keys.ts), once its run is over by the
 * clock; the record is kept until then, for a later start. The revocation is recorded before the record goes, so a
 * start that dies in between finds it again, and its derived command id records nothing more. One whose credential
 * was provisioned, ended, or never issued (the process died before the first append) has nothing left to do.
 * Each run is settled on its own (review 405 F2): what one failed with is returned, for the sweep to report once
 * the rest is done (sweep-pending-keys.ts), and that run is tried again at the next sweep.
 */
export const sweepCutKeyPairRuns = async (o: InfrastructureOptions, beside: 'at_start' | 'beside_live_runs' = 'at_start'): Promise<SweepFailure[]> => {
  const failures: SweepFailure[] = [];
  for (const run of o.registry.keyPairRuns()) {
    try {
      await settleKeyPairRun(o, run, beside);
    } catch (error) {
      failures.push({ what: `the key pair run of credential ${run.credentialId}`, error });
    }
  }
  return failures;
};

const settleKeyPairRun = async (o: InfrastructureOptions, run: KeyPairRun, beside: 'at_start' | 'beside_live_runs'): Promise<void> => {
  const credential = await o.engine.entity('credential', run.credentialId);
  // Beside this process's own runs (the tick), one that has issued nothing yet may be in flight, between its record
  // and its first append: kept while its session could still be open (a CI run caught the tick ending such a record,
  // and the run then cut was never revoked). At a start no run of this process is in flight.
  if (beside === 'beside_live_runs' && credential.events.length === 0 && !(run.beganAt.getTime() + ENROLMENT_SESSION_TIMEOUT_SECONDS * 1000 <= o.engine.clock.now().getTime())) {
    return;
  }
  if (issuedByRemoteProvisioning(credential, o)) {
    if (!runOver(credential, o.engine.clock.now())) return;
    await revokeUnprovisioned(o, run.credentialId);
  }
  o.registry.endKeyPairRun(run.credentialId);
};
