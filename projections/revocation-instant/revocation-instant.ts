import type { DecodedEvent } from '../../domain/stored.ts';
import { sentBy } from '../../domain/ports/index.ts';
import { PROCESS_MANAGER_ACTOR } from '../cascade/index.ts';

/*
 * When a revocation occurred, one rule for every read model that dates one: the `pki` read model (the invalidityDate
 * of a CRL entry, RFC 5280 5.3.2, and of an OCSP answer, a singleExtension, RFC 6960 4.4, where it is earlier than
 * the recording; revocationDate and revocationTime stay the recording, when the CA processed the revocation: review
 * 203) and the compliance `revocations` query (review 197: a compliance window missed certificates the CRL said were
 * revoked in it). Each keeps the state the rule reads in its own tables; the rule itself is stated here once.
 */

/**
 * When a revocation recorded at `at` occurred: when it was recorded, except a rotation's handover. That is judged at
 * the end of the overlap (`overlapEndsAt`, of the credential's rotation under way) and the service refuses the
 * predecessor from then (machines `handoverInstant`, rule `credentialUsable`), whenever the scheduler records it;
 * dated at its recording alone, a late tick (downtime) made CRLs and OCSP say nothing of the time the service refused
 * it (review 171): they carry it as the invalidityDate, the compliance query as `occurredAt`. An earlier revocation as superseded, while the overlap lasts, occurred when it was
 * recorded. Likewise the cascade's revocation of a node's credential because the node's enrolment lapsed with its
 * subscription (`lapsedAt`, lateLapse): the service refused the node from the subscription's notAfter, whenever the
 * expiry was recorded (review 191).
 */
export const revocationInstant = (at: number, reason: string, overlapEndsAt: number | undefined, lapsedAt: number | undefined): number => {
  let instant = at;
  if (reason === 'superseded' && overlapEndsAt !== undefined) instant = Math.min(instant, overlapEndsAt);
  if (lapsedAt !== undefined) instant = Math.min(instant, lapsedAt);
  return instant;
};

/**
 * When an enrolment whose end was recorded at `endedAt` lapsed: its subscription's `notAfter` (epoch ms) when that came
 * first (a downtime, a lagging scheduler), whether it expired or was terminated after it; undefined when it ended in
 * time (its revocations are dated when recorded) or the notAfter is unknown.
 */
export const lateLapse = (notAfter: number | undefined, endedAt: number): number | undefined =>
  notAfter !== undefined && notAfter < endedAt ? notAfter : undefined;

/**
 * The event whose late lapse the credential revocation `e` may follow from: the cascade's own revocation names the
 * event it reacts to as its causationId (cascade/issue.ts). Anyone else's names what its sender chose, which dates
 * nothing back: undefined.
 */
export const lapseCauseOf = (e: DecodedEvent): string | undefined =>
  sentBy(e.metadata, { actor: PROCESS_MANAGER_ACTOR, commandType: 'revokeCredential' }) ? e.metadata.causationId : undefined;
