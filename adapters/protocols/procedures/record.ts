import { isCredenceError } from '../../../domain/errors.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';
import { streamIdOf } from '../../../domain/streams.ts';
import type { AssociationOutcome, ProvisioningOutcome } from '../../../domain/protocols/index.ts';
import { issuedFrom, receiptFrom } from './descriptors.ts';
import { discardNewKey } from './discard-new-key.ts';
import { revokeUnprovisioned } from './revoke-unprovisioned.ts';
import { InfrastructureCommandRefusedBySigningPolicy, InfrastructureCommandUnauthorised } from './infrastructure-command.ts';
import type { Infrastructure } from './infrastructure.ts';
import { assertWouldRecord } from './would-record.ts';

/**
 * What the infrastructure records once its end of a protocol has succeeded, the same whether both ends run in this
 * process (SecurityProcedures) or the device is across a connection (the endpoints). Each either records its
 * events or leaves no key of the run behind.
 */

/**
 * Refusals that say the command appended nothing: a machine guard, a conflict that outlasted its retries, the
 * admission's (actor, request signature: InfrastructureCommandUnauthorised and InfrastructureCommandRefusedBySigningPolicy
 * as `run` raises them), a history it could not decide on, the store's refusal of the whole append (its write lock
 * held elsewhere, no room). A provisioning refused and its issued credential then left unrevoked (an AggregateError,
 * the refusal first) appended nothing for the refused command.
 */
const REFUSED = ['illegal_transition', 'not_found', 'validation', 'concurrency_conflict', 'unauthorised', 'bad_signature', 'broken_history', 'store_unavailable'] as const;
const refusedWithoutAppend = (error: unknown): boolean =>
  error instanceof AggregateError
    ? refusedWithoutAppend(error.errors[0])
    : error instanceof InfrastructureCommandRefusedBySigningPolicy ||
      error instanceof InfrastructureCommandUnauthorised ||
      REFUSED.some((code) => isCredenceError(error, code));

/**
 * Whether a run that failed may destroy the keys it kept pending. Not when the append that makes them its entity's
 * (`confirming`) failed with an outcome this process cannot know (the store failed mid-append, a timeout): the event
 * may be stored, and the keys with it its entity's. Those stay pending, and the next start's sweep settles them
 * against the store (confirmed when the event is there, destroyed otherwise); a PSK copy, the tick's too once its
 * run is over (sweep-pending-keys.ts, review 400 F2).
 */
export const mayDiscardKeys = (confirming: boolean, error: unknown): boolean => !confirming || refusedWithoutAppend(error);

/**
 * Remote provisioning ended with a verified receipt: `CredentialIssued` then `CredentialProvisioned` with the receipt.
 * The Enrolment Function's copy of a PSK is registered pending first, so a crash before the append leaves a key the
 * next start sweeps; refused by the engine (the node or its bootstrap credential was revoked meanwhile, say, or the
 * node's subscription ended after the run's auth step: `subscriptionServes`, seed 003 11.2.1), the copy is destroyed.
 * A key pair's run, of which no key is kept here, is recorded begun instead (`KeyRegistry.beginKeyPairRun`), and ended
 * once its outcome is recorded: the next start ends a credential such a run left issued and never provisioned. Only
 * by the run that began it: a record another run of the id wrote first is that run's to end (review 138: a refused
 * twin deleted the record of the run that was between its two appends).
 *
 * A refusal writes nothing: both commands are decided before either is appended (`assertWouldRecord`), so a
 * `provisionCredential` the machine would refuse (`bootstrapIsUsable`, `subscriptionServes`) no longer leaves a
 * `CredentialIssued` behind, an id in `initialized` nobody can provision. Only a fact that moves in the milliseconds
 * between that decision and the second append can still refuse it; then the trail is made honest in the same path:
 * the credential just issued is revoked (`cessationOfOperation`, RFC 5280 5.3.1: it will never be used; its holder's
 * reason when the holder was revoked meanwhile, review 176), its revocation correlated with its issue, or found
 * revoked already by the cascade (revoke-unprovisioned.ts). (One append of both events would close even that window, but the engine decides and appends
 * one command at a time.)
 */
export const recordProvisioning = async (
  infra: Infrastructure,
  args: { outcome: ProvisioningOutcome; credentialId: string; purpose: 'service' | 'application'; predecessorId?: string | undefined },
) => {
  const { outcome, credentialId } = args;
  let provisioned;
  let confirming = false;
  let began = false;
  try {
    // Inside the try: a registry that refuses the binding leaves no key unbound (review 53).
    infra.keepPsk(credentialId, outcome.credentialKeyHandle);
    // A key pair's run has no key here to find it by: a record of its own, before the first append.
    began = infra.beginKeyPairRun(credentialId, outcome.credentialKeyHandle);
    const bootstrapCredentialId = await infra.bootstrapIdOf(outcome.nodeId);
    const issue = issuedFrom(outcome, credentialId, args.purpose, args.predecessorId);
    const provision = { credentialId, method: 'remote-provisioning', bootstrapCredentialId, receipt: receiptFrom(outcome) };
    await assertWouldRecord(infra.o.engine, infra.o.actor, [
      { type: 'issueCredential', data: issue },
      { type: 'provisionCredential', data: provision },
    ]);
    // Both would be recorded: the certificate is journalled now, before it is recorded and handed over (review 247).
    if (issue.certificate !== undefined) recordIssued(infra, issue);
    const issued = await infra.run('issueCredential', issue);
    try {
      confirming = true;
      provisioned = await infra.run('provisionCredential', provision);
    } catch (error) {
      // An outcome this process cannot know (the store failed mid-append) is left as it stands: revoking a credential
      // that may be provisioned would be a guess. The tick settles it against the store once its run is over, as a
      // start does (sweep-pending-keys.ts). The caller's answer is the refusal either way.
      if (refusedWithoutAppend(error)) {
        await revokeUnprovisioned(infra, { credentialId, owner: issue.owner, issueCommandId: issued.commandId, refusal: error });
      }
      throw error;
    }
  } catch (error) {
    const handle = outcome.credentialKeyHandle;
    if (handle === undefined) {
      // Ended only when nothing of the run is left initialized: nothing appended, or the issue revoked in the path
      // above. An outcome unknown, or a revocation that failed, keeps the record for the next start to settle.
      if (began && refusedWithoutAppend(error) && !(error instanceof AggregateError)) endRunQuietly(infra, credentialId);
      throw error;
    }
    if (!mayDiscardKeys(confirming, error)) throw error;
    throw await discardNewKey(infra.o.se, infra.o.registry, { stream: streamIdOf('credential', credentialId), handle, purpose: 'psk' }, infra.o.engine.clock.now(), error);
  }
  infra.confirmPsk(credentialId, outcome.credentialKeyHandle);
  // A record this run did not begin is another's, or an earlier run's the next start ends against the store.
  if (began) infra.endKeyPairRun(credentialId, outcome.credentialKeyHandle);
  return provisioned;
};

/** The issuing CA's journal of `issue`'s certificate; a write that fails refuses the run (nothing recorded or handed out). */
const recordIssued = (infra: Infrastructure, issue: unknown): void => {
  try {
    infra.o.certificates?.recordIssued?.(issue);
  } catch (error) {
    // The cause (a path, the disk) is the operator's, kept as the refusal's `cause`, not in what the node is told.
    const refusal = protocolFailure('provisioning.receipt', 'certificate_not_issued', 'the issuing CA could not record the certificate as issued');
    Object.defineProperty(refusal, 'cause', { value: error, enumerable: false });
    throw refusal;
  }
};

/**
 * `recordProvisioning` of a run whose receipt the Enrolment Function accepted (its session `outcome.sessionId`): the
 * credential id its admission claimed stays claimed until the recording has ended, either way, so no other run of the
 * id is admitted before the appends that would refuse it are there (credential-ids-in-flight.ts).
 */
export const recordProvisioningRun = async (infra: Infrastructure, args: Parameters<typeof recordProvisioning>[1]) => {
  try {
    return await recordProvisioning(infra, args);
  } catch (error) {
    throw withoutKeyHolder(error);
  } finally {
    const claimed = args.outcome.credentialId;
    if (claimed !== undefined) infra.settleCredentialId(claimed, args.outcome.sessionId);
  }
};

/**
 * SER-010: a record refused because another credential was issued on the key meanwhile (keyNeverCertified, after the
 * auth step's check) is told to the device as that check tells it, `credential_mismatch` naming no credential: the
 * machine's reason names the other one, another node's perhaps, which the device may not learn. Once recordProvisioning
 * has settled its keys by the refusal itself.
 */
const withoutKeyHolder = (error: unknown): unknown =>
  isCredenceError(error, 'illegal_transition') && error.problem.code === 'illegal_transition' && error.problem.rule === 'keyNeverCertified'
    ? protocolFailure('provisioning.receipt', 'credential_mismatch', 'the new credential carries a key already certified; a new key is needed')
    : error;

/**
 * Ends a key pair's run record on the way out of a refusal, which stays what the caller is told: a record the registry
 * fails to clear is settled by the next start against the store (nothing there to end).
 */
const endRunQuietly = (infra: Infrastructure, credentialId: string): void => {
  try {
    infra.endKeyPairRun(credentialId, undefined);
  } catch {
    // Left for the next start, as above.
  }
};

/**
 * The Registrar's end of a handshake succeeded: `AssociationEstablished`. Its session keys are registered pending
 * before the append, so a crash in between leaves keys the next start sweeps (`sweepPendingKeys`), and confirmed once
 * it is recorded; refused (the association was revoked or established meanwhile), they are destroyed.
 */
export const recordAssociation = async (infra: Infrastructure, associationId: string, outcome: AssociationOutcome) => {
  let established;
  let confirming = false;
  try {
    // Inside the try: a registry that refuses a binding leaves no session key unbound (review 53).
    infra.keepSessionKeys(associationId, outcome);
    confirming = true;
    established = await infra.run('establishAssociation', { associationId, expiresAt: outcome.expiresAt, transcriptHash: outcome.transcriptHash });
  } catch (error) {
    if (!mayDiscardKeys(confirming, error)) throw error;
    const stream = streamIdOf('association', associationId);
    let thrown = error;
    for (const handle of [outcome.sessionKeys.send, outcome.sessionKeys.receive]) {
      thrown = await discardNewKey(infra.o.se, infra.o.registry, { stream, handle, purpose: 'session' }, infra.o.engine.clock.now(), thrown);
    }
    throw thrown;
  }
  await infra.confirmSessionKeys(associationId, outcome);
  return established;
};
