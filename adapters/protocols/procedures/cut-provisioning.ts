import { clientCommandId } from '../../../domain/event-ids.ts';
import { isCredenceError } from '../../../domain/errors.ts';
import { command } from '../../../domain/commands/index.ts';
import type { LoadedEntity } from '../../../machines/index.ts';
import { executeForDevice } from './infrastructure-command.ts';
import type { InfrastructureOptions } from './infrastructure-options.ts';
import type { KeyPairRun } from './key-registry.ts';

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

/** What a sweep could not settle (`what`, by handle or id: no secret) and why. */
export interface SweepFailure {
  readonly what: string;
  readonly error: unknown;
}

/** How many failures a combined failure's message names, and how much of each one's message (review 412 F2). */
const NAMED_AT_MOST = 5;
const MESSAGE_CHARS_AT_MOST = 300;
/** How many inner errors an AggregateError of them keeps: the named ones, then the first of each other typed kind. */
const KEPT_AT_MOST = 10;
const UNTYPED: ReadonlySet<unknown> = new Set([Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, AggregateError]);

/**
 * A failure's kind, when it has one to report by: a CredenceError's code (`damaged_database`, …), or the class of an
 * error of its own class (LockHeldElsewhere, the store's errors) with its `code` when it has one. A plain Error has none.
 */
const kindOf = (error: unknown): string | undefined => {
  if (isCredenceError(error)) return `CredenceError:${error.problem.code}`;
  if (!(error instanceof Error) || UNTYPED.has(error.constructor)) return undefined;
  const code = (error as { code?: unknown }).code;
  return `${error.constructor.name}:${typeof code === 'string' ? code : ''}`;
};

const cut = (message: string): string => (message.length <= MESSAGE_CHARS_AT_MOST ? message : `${message.slice(0, MESSAGE_CHARS_AT_MOST)}…`);
const messageOf = (error: unknown): string => cut(error instanceof Error ? error.message : String(error));

/**
 * `error` itself again (its type, fields and stack kept: a copy, for the error object may be thrown elsewhere too),
 * its message saying how many failed as it did (a count, no path).
 */
const counted = (error: Error, count: number, summary: string): Error => {
  const copy = Object.create(Object.getPrototypeOf(error) as object, Object.getOwnPropertyDescriptors(error)) as Error;
  const message = `${cut(error.message)} (and ${count - 1} more of the same kind: ${count} ${summary})`;
  Object.defineProperty(copy, 'message', { value: message, writable: true, enumerable: false, configurable: true });
  return copy;
};

/**
 * Throws what a sweep (or the tick's closing steps, open-credence.ts) could not do, once every other part was done:
 * nothing when nothing failed; one failure as it was thrown; several of one kind (`kindOf`: the store or the Secure
 * Environment down fails each alike) as the first of them, its type kept, its message naming their count; others as
 * one AggregateError naming at most five and how many more (review 412 F2: 5,000 failing pending keys made a
 * 619,000-character message, logged and put into the component status at every tick). `summary` follows the count.
 */
export const throwFailures = (failures: readonly SweepFailure[], summary: string): void => {
  if (failures.length === 0) return;
  if (failures.length === 1) throw failures[0]!.error;
  const first = failures[0]!.error;
  const kind = kindOf(first);
  if (kind !== undefined && failures.every((f) => kindOf(f.error) === kind)) throw counted(first as Error, failures.length, summary);
  const named = failures.slice(0, NAMED_AT_MOST);
  const more = failures.length - named.length;
  const each = named.map((f) => `${f.what}: ${messageOf(f.error)}`).join('; ');
  // The named errors, then the first of each other typed kind (for whoever reports it by type: live-failure.ts).
  const kept = named.map((f) => f.error);
  const kinds = new Set(kept.map(kindOf));
  for (const f of failures.slice(NAMED_AT_MOST)) {
    if (kept.length >= KEPT_AT_MOST) break;
    const k = kindOf(f.error);
    if (k !== undefined && !kinds.has(k)) {
      kinds.add(k);
      kept.push(f.error);
    }
  }
  throw new AggregateError(kept, `${failures.length} ${summary} (${each}${more > 0 ? `; and ${more} more` : ''})`);
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
