import type { RevocationReason } from '../../domain/events/index.ts';
import type { BrokenHistoryError } from '../../machines/index.ts';

/** A command the process manager will issue, before ids and metadata are attached. */
export interface Reaction {
  readonly type: string;
  readonly data: Record<string, unknown>;
  /** Issued instead when the target's machine refuses this one (on the same target). */
  readonly otherwise?: Reaction;
}

/**
 * One dependent whose reactions could not be worked out: a lookup for it met a broken history. It becomes a dead
 * letter naming that stream, on its own: the event's other dependents are reacted to as usual (found in review: one
 * broken successor left an App-ID enrolled with an expired credential, and an association configured on it).
 */
export interface Unresolved {
  readonly unresolved: BrokenHistoryError;
}

/** What follows from an event, dependent by dependent. */
export type Outcome = Reaction | Unresolved;

export const isUnresolved = (x: unknown): x is Unresolved => typeof x === 'object' && x !== null && 'unresolved' in x;

export const idOf = (streamId: string): string => streamId.slice(streamId.indexOf('-') + 1);

export const revokeAssociations = (streams: readonly string[], reason: RevocationReason): Reaction[] =>
  streams.map((s) => ({ type: 'revokeAssociation', data: { associationId: idOf(s), reason } }));

/**
 * The reason a credential is revoked for when its holder (its node, its App-ID) was revoked: the holder's, except
 * `superseded`. On a credential that reason says its rotation handed over to a successor its node holds (HLR-212,
 * the credential machine's `handedOver`), which a holder replaced by another did not do: its credentials cease with
 * it. Carried on as is, a rotating credential refused it and stayed live under its revoked node, or not, as its id
 * sorted beside its successor's (review 121); App-ID enrolments take the same mapping (`enrolmentEndReason`).
 */
export const credentialReasonOf = (holderReason: RevocationReason): RevocationReason =>
  holderReason === 'superseded' ? 'cessationOfOperation' : holderReason;

export const revokeCredentials = (streams: readonly string[], holderReason: RevocationReason): Reaction[] =>
  streams.map((s) => revokeCredential(idOf(s), holderReason));

export const revokeCredential = (credentialId: string, holderReason: RevocationReason): Reaction => ({
  type: 'revokeCredential',
  data: { credentialId, reason: credentialReasonOf(holderReason) },
});
