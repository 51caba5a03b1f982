import type { NodeProvisioningResult } from '../../../domain/protocols/index.ts';
import { CredenceError, isKeyNotFound, validationError, type FieldIssue } from '../../../domain/errors.ts';
import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import { entityReadUnanswered, isEntityAbsent } from '../../../adapters/client/entity-absent.ts';
import { MAX_ENTITY_BYTES } from '../../../adapters/client/operator.ts';
import { ENROLMENT_SESSION_TIMEOUT_SECONDS } from '../../../adapters/protocols/procedures/cut-provisioning.ts';
import { clientOf, type ServerTarget } from '../options.ts';
import { adoptedCertificate, type CertificateOutcome } from './adopted-certificate.ts';
import { readServerTime } from './server-clock.ts';
import type { SimulatedDevice } from './simulator.ts';
import { stateFile, type DeviceState, type PendingProvisioning } from './state.ts';

/**
 * Write-ahead for `device provision` (found in review: a state that could not be written after the server recorded
 * the credential left its new key unnamed in the Secure Environment, neither used nor destroyed by a rerun, while the
 * server bound the credential to it). The key is named in the state before the receipt is sent; the state that holds
 * the credential clears it. A rerun settles a pending run first: by the fingerprint the server holds for its
 * credential, it adopts the key or destroys it, and keeps it while that is not known. A run killed before its
 * write-ahead leaves a key no file names: `device provision`, like every command that locks the folder, destroys it
 * first (unnamed-keys.ts). A key is never destroyed on a `not_found` or an `initialized` credential while the earlier
 * run may still be recorded (review 207): assertRecordingOver.
 */

/**
 * A credential adopted from an earlier run the server recorded, whose state was not written; with what became of
 * its certificate (adopted-certificate.ts): `missing` names why and how to fetch it later.
 */
export type AdoptedCredential = {
  readonly type: 'provisioning.adopted';
  readonly credentialId: string;
  readonly kind: CredentialDescriptor['kind'];
  readonly fingerprint: string;
} & CertificateOutcome;

const withoutPending = (state: DeviceState): DeviceState => {
  const { provisioning: _settled, ...rest } = state;
  return rest;
};

/** The state file could not be written: said with the file and what it leaves, never the state's content. */
const unsaved = (dir: string, error: unknown, leaves: string) =>
  validationError(
    [{ path: 'dir', rule: 'device-state-unsaved', message: `${stateFile(dir)} could not be written (${error instanceof Error ? error.message : 'write failed'}); ${leaves}` }],
    'device folder',
  );

/** Saves `state`; on a failure the device's state in memory stays as it was and the error names the file. */
export const saveState = (sim: SimulatedDevice, state: DeviceState, leaves: string): void => {
  const before = sim.state;
  sim.state = state;
  try {
    sim.save();
  } catch (error) {
    sim.state = before;
    throw unsaved(sim.dir, error, leaves);
  }
};

/** The server's time now at `server` (server-clock.ts), or undefined when it is not known: no Date, or not reached. */
const serverNow = async (server: string | { readonly url: string; readonly timeoutMs?: number | undefined }): Promise<Date | undefined> => {
  const reading = await readServerTime(typeof server === 'string' ? { url: server } : server).catch(() => undefined);
  return reading === undefined ? undefined : new Date(reading.serverMs);
};

/**
 * Names the run's new key in the state before its receipt is sent; a throw ends the run with the key destroyed. The
 * write-ahead's time is the device's and, read from `server` just before, the server's (assertRecordingOver).
 */
export const writeAhead = async (
  sim: SimulatedDevice, credentialId: string, made: NodeProvisioningResult, server: string | { readonly url: string; readonly timeoutMs?: number | undefined },
): Promise<void> => {
  const { cseId } = made.serviceParameters;
  const serverWrittenAt = await serverNow(server);
  const provisioning: PendingProvisioning = {
    credentialId, handle: made.handle, descriptor: made.credential, ...(cseId !== undefined ? { cseId } : {}), writtenAt: sim.now().toISOString(),
    ...(serverWrittenAt !== undefined ? { serverWrittenAt: serverWrittenAt.toISOString() } : {}),
  };
  saveState(sim, { ...sim.state, provisioning }, `nothing was sent to record credential ${credentialId}, and its new key was destroyed`);
};

/** The state once the pending run is over: its credential held (saved by the caller through the Device) or not. */
export const clearPending = (sim: SimulatedDevice, leaves: string): void => saveState(sim, withoutPending(sim.state), leaves);

/**
 * What the server holds for the pending credential, read with an operator token: `not_found` (no such credential, as
 * yet), `other_key` (bound to another key: never this run's), else its state, the key being the one it binds the
 * credential to.
 */
const recordedByServer = async (target: ServerTarget, pending: PendingProvisioning): Promise<'not_found' | 'other_key' | { readonly state: string }> => {
  try {
    const credential = await clientOf(target).entity('credential', pending.credentialId, MAX_ENTITY_BYTES);
    const context = credential.context as { readonly fingerprint?: unknown } | null;
    return context?.fingerprint === pending.descriptor.fingerprint ? { state: credential.state } : 'other_key';
  } catch (error) {
    // Only the service's own not_found: a gateway's 404 page says nothing of what the server holds, and taken for
    // "not recorded" it destroyed the key of a credential the server had recorded (review 66).
    if (isEntityAbsent(error)) return 'not_found';
    throw entityReadUnanswered(error, `device provision's check whether the server recorded credential ${pending.credentialId} (an earlier unfinished provision)`, 'device provision');
  }
};

/**
 * The states of a credential provisioned and not ended: the only ones a rerun adopts. A credential the server
 * issued but never provisioned (it died between its two appends, docs/service.md) can never be used, and one
 * ended since is of no use either: adopted, it was an "adopted" exit 0 for a dead id (review 91).
 */
const USABLE = new Set(['enrolled', 'associated']);

/** The server recorded the credential but did not complete it, or ended it: nothing of the run is kept. */
const notCompleted = (credentialId: string, state: string) =>
  validationError(
    [{
      path: 'credentialId', rule: 'provisioning-not-completed',
      message: `the server did not complete the provisioning of credential ${credentialId} ` +
        `(${state === 'initialized' ? 'issued, never provisioned' : `it is ${state}: ended at the server's restart, or since`}): ` +
        `its key on the device is destroyed and ${credentialId} cannot be used again: run device provision again with a new --credential-id`,
    }],
    'device provision',
  );

/**
 * How long after its write-ahead the server may still record an earlier run: the Enrolment Function keeps a run's
 * session this long (its receipt may reach the server, or its appends end, until then), and a margin for an append
 * under way at its end (and, judged on the device's clock for want of the server's, for that clock against the
 * server's). Until then a `not_found`, or a credential issued and not yet provisioned, may be a recording still under
 * way (review 207: its appends slow, the rerun's read answered 404, the key was destroyed, and the server then
 * recorded the credential enrolled on it).
 */
const RECORDING_MAY_LAST_MS = (ENROLMENT_SESSION_TIMEOUT_SECONDS + 60) * 1000;

/** The clock a wait was judged on, as the refusal says it: the server's, or the device's for want of it. */
type JudgedBy = { readonly clock: 'server'; readonly now: Date } | { readonly clock: 'device' };

const byClock = (judged: JudgedBy): string =>
  judged.clock === 'server'
    ? `by the server's clock (it said ${judged.now.toISOString()})`
    : "by this device's clock (the server's time is not known: its answer carried no Date header, or none came; were this clock set wrong, check with an operator first)";

/**
 * A refusal for a provisioning an earlier run left pending: said as that, with its credential, what is not known, what
 * this run (`requested`) does not do meanwhile and what settles it, never as an invalid device folder (review 252: the
 * folder was fine, and the refusal hid that a provisioning's outcome was pending). Still of code `validation` with the
 * rule scripts knew it by, the one shape every local refusal of the CLI has (domain/errors.ts).
 */
const pendingRefusal = (sim: SimulatedDevice, requested: string | undefined, rule: string, said: (key: string) => string): CredenceError => {
  const pendingId = sim.state.provisioning?.credentialId;
  const held = requested === undefined ? 'no other credential is provisioned' : requested === pendingId ? `credential ${requested} is not provisioned again` : `credential ${requested} is not provisioned`;
  const message = `the provisioning of credential ${pendingId} by an earlier run is pending: ` +
    said(`its key is kept, named in ${stateFile(sim.dir)}, and ${held} until it is settled`);
  const issue: FieldIssue = { path: 'dir', rule, message };
  return new CredenceError({ code: 'validation', issues: [issue], message });
};

/** How a run is told to settle the pending key with a token. */
const SETTLE = 'with an operator token (--token-file, --token or CREDENCE_TOKEN) to settle it by its fingerprint';

/** A rerun too early to tell "not recorded" from "not recorded yet": the key kept, and when to run again. */
const mayStillBeRecording = (sim: SimulatedDevice, requested: string | undefined, found: string, after: Date, judged: JudgedBy) =>
  pendingRefusal(sim, requested, 'provision-may-still-be-recording', (kept) =>
    `the server ${found} credential ${sim.state.provisioning?.credentialId}, and may still be recording it ` +
      `(its run may last ${ENROLMENT_SESSION_TIMEOUT_SECONDS} s at the Enrolment Function): whether it will is not known; ${kept}: ` +
      `run device provision again after ${after.toISOString()} ${byClock(judged)} ${SETTLE}`,
  );

/**
 * When a key the server did not record may be destroyed, as far as the device knows without asking: its write-ahead's
 * time and the run's most, on the server's clock when its time was known then (assertRecordingOver judges it again).
 */
export const settlesAfter = (pending: PendingProvisioning | undefined): string => {
  const at = pending?.serverWrittenAt ?? pending?.writtenAt;
  if (at === undefined || Number.isNaN(Date.parse(at))) return 'not while the server may still be recording it';
  const clock = pending?.serverWrittenAt !== undefined ? "by the server's clock" : "by this device's clock";
  return `not before ${new Date(Date.parse(at) + RECORDING_MAY_LAST_MS).toISOString()} ${clock}, until when the server may still be recording it`;
};

/** What a run with a token does with the pending key, and from when it may destroy it. */
export const howItSettles = (pending: PendingProvisioning | undefined): string =>
  `run device provision again ${SETTLE}: the credential is adopted if the server recorded it; if it did not, its key is ` +
  `destroyed, though ${settlesAfter(pending)}`;

/**
 * The start of the wait on one clock: the write-ahead's time on it, or, for a record with none (written by an earlier
 * build, or when the server's answer carried no Date) or one ahead of that clock now (it went back), the time now,
 * saved: the wait is then bounded, and starts after the write-ahead for sure.
 */
const startOfWait = (sim: SimulatedDevice, pending: PendingProvisioning, member: 'writtenAt' | 'serverWrittenAt', now: Date): number => {
  const at = pending[member];
  if (at !== undefined && Date.parse(at) <= now.getTime()) return Date.parse(at);
  saveState(sim, { ...sim.state, provisioning: { ...pending, [member]: now.toISOString() } }, `the earlier unfinished provision of ${pending.credentialId} stays named there, its key kept`);
  return now.getTime();
};

/**
 * Refuses to settle the pending run by what the server does not hold yet until it is surely over: its write-ahead's
 * time and the run's most, judged on the server's clock (`serverAt`, read before the server was asked): the device's
 * may have jumped ahead since the write-ahead, and a wait judged on it took a run still being recorded for over
 * (review 211: the key destroyed, and the credential then recorded on it). Only when the server's time is not known
 * now is the wait judged on the device's clock, as the refusal says.
 */
const assertRecordingOver = (sim: SimulatedDevice, requested: string | undefined, pending: PendingProvisioning, found: string, serverAt: Date | undefined): void => {
  const judged: JudgedBy = serverAt !== undefined ? { clock: 'server', now: serverAt } : { clock: 'device' };
  const now = serverAt ?? sim.now();
  const over = new Date(startOfWait(sim, pending, serverAt !== undefined ? 'serverWrittenAt' : 'writtenAt', now) + RECORDING_MAY_LAST_MS);
  if (now.getTime() < over.getTime()) throw mayStillBeRecording(sim, requested, found, over, judged);
};

/** Destroys the pending key, then forgets it: a state that cannot be written names a key that is gone, never a key no state names. */
const discardPending = async (sim: SimulatedDevice, handle: PendingProvisioning['handle'], leaves: string): Promise<void> => {
  // A key that will not go stays named.
  await sim.device.se.destroy(handle).catch((error: unknown) => {
    if (!isKeyNotFound(error)) throw error;
  });
  clearPending(sim, leaves);
};

/**
 * Settles a provisioning run an earlier `device provision` left pending (its state unsaved, or its receipt's answer
 * lost), once the keys of runs killed before they named theirs are destroyed (provision, unnamed-keys.ts): a key no longer
 * held is forgotten; a key the server binds a provisioned, unended credential to is adopted; one it does not is
 * destroyed, then forgotten; one it binds a credential it never provisioned (or ended) to is destroyed too, and the
 * rerun refused: that id is used up. Neither is destroyed on a `not_found` or an `initialized` credential before the
 * earlier run is surely over (assertRecordingOver): the run is refused, as an outcome not known, the key kept.
 * Without `checkWith` (an operator token) the server cannot be asked, and the run is refused with the key kept. Each
 * refusal names the pending credential and says that `requested`, this run's, is not provisioned meanwhile. An adopted credential gets the certificate the server recorded for it, where the
 * deployment issues one, checked to certify the adopted key as the lost answer's was (adopted-certificate.ts; the
 * Enrolment Function's proof over it cannot be checked: it bound a transcript only the first run held); one that
 * cannot be had leaves the adoption standing, the outcome saying it is missing.
 */
export const settlePendingProvisioning = async (
  sim: SimulatedDevice, checkWith: ServerTarget | undefined, requested?: string,
): Promise<AdoptedCredential | undefined> => {
  const pending = sim.state.provisioning;
  if (pending === undefined) return undefined;
  const { credentialId, handle, descriptor } = pending;
  const held = await sim.device.se.describe(handle).then(() => true, () => false);
  if (!held) {
    clearPending(sim, `the earlier unfinished provision of ${credentialId} stays named there (its key is gone): run device provision again`);
    return undefined;
  }
  if (checkWith === undefined) {
    throw pendingRefusal(sim, requested, 'unfinished-provision', (kept) =>
      `whether the server recorded it is not known (its answer was lost, the server failed, or it was a refusal with no proof that verifies for this run's receipt under the pinned Enrolment Function key); ${kept}: ${howItSettles(pending)}`,
    );
  }
  // The server's time before it is asked: a wait judged over at it was over when the server answered.
  const serverAt = await serverNow(checkWith);
  const recorded = await recordedByServer(checkWith, pending);
  if (typeof recorded === 'object' && USABLE.has(recorded.state)) {
    // Fetched before the state is written: the one write that adopts the key holds its certificate too.
    const { held, outcome } = await adoptedCertificate(checkWith, credentialId, descriptor);
    sim.device.credentials.set(credentialId, { handle, descriptor: held });
    if (pending.cseId !== undefined) sim.device.cseId = pending.cseId;
    clearPending(sim, `credential ${credentialId} is recorded by the server and its key stays named as pending there: run device provision again to adopt it`);
    return { type: 'provisioning.adopted', credentialId, kind: descriptor.kind, fingerprint: descriptor.fingerprint, ...outcome };
  }
  if (recorded === 'not_found') assertRecordingOver(sim, requested, pending, 'holds no', serverAt);
  if (typeof recorded === 'object' && recorded.state === 'initialized') assertRecordingOver(sim, requested, pending, 'has issued, not yet provisioned,', serverAt);
  if (typeof recorded === 'object') {
    await discardPending(sim, handle, `the key of the earlier provision of ${credentialId}, which the server did not complete, is destroyed: run device provision again with a new --credential-id`);
    throw notCompleted(credentialId, recorded.state);
  }
  await discardPending(sim, handle, `the key of the earlier provision of ${credentialId}, which the server did not record, is destroyed: run device provision again`);
  return undefined;
};
