import type { RevocationReason } from '../../domain/events/index.ts';
import { idOf, isUnresolved, revokeAssociations, type Outcome } from './reaction.ts';
import { CREDENTIAL_OF_APPLICATION, orUnresolved, type ReactionContext } from './reaction-context.ts';

/**
 * Review 343 (seed 003 11.2.2, SER-022): an App-ID moved onto another credential (`replaces`, or another credential
 * than the one it was enrolled with) no longer authorises anything through the one it left: since review 249 nothing
 * is configured or established on it (the association machine's appCredentialIsEnrolled), but an instance's session
 * already established with it kept its access until it expired. Those are revoked as `superseded`: another credential
 * of the App-ID's own took this one's place for it, as in a rotation's handover (where the credential's revocation as
 * superseded revokes them first, and these find them ended). Not `affiliationChanged`, which the association machine
 * keeps for a CSE Registree whose node left its CSE-ID (registreeMovedAway); nothing was compromised or ceased.
 *
 * Review 347: not only the credential left. What an App-ID's AEs may use is what appCredentialIsEnrolled lets a new
 * establishment use: the credential it is enrolled with and the successor that credential's rotation names. So an
 * instance established on the left credential's successor during its overlap is revoked too when the App-ID moves
 * elsewhere; every established instance on a credential of the App-ID's own (onApplicationCredential) is, except on
 * the credential moved onto or its rotation's successor (moved back onto a credential rotating to the one it left,
 * the App-ID may use that one still), and except on a credential the App-ID may use now (read from the engine, as
 * cseIdHeldNow: a rebuild, or a cascade that is behind, meeting A, then B, then A again must not revoke what was
 * established on A before the first move). The rotation successors are read now as well: a credential names one
 * predecessor (successorLinked), so the successor of the credential moved onto had authenticated nothing before the
 * move unless it is the one left. A hint, as cseIdHeldNow is: an App-ID that moves back between this read and the
 * revocation's commit loses what it came back to, as it would had the cascade not been behind. A read that meets a
 * broken history spares nothing (review 353: fail closed), beside the dead letter naming it.
 *
 * Only the established ones: a configured one is refused at its hello and its establishment while the App-ID is
 * enrolled with another (review 249), and becomes usable again if the App-ID moves back, so it is left waiting. The
 * associations on an AE's own credential, and of other App-IDs, are not authenticated with the App-ID's credentials,
 * and stay.
 */
export const associationsOfTheCredentialLeft = async (
  ctx: ReactionContext,
  application: string,
  credentialId: string,
  replaces: string | undefined,
): Promise<Outcome[]> => {
  // As of the event: the read model has not applied the move yet. `replaces` when it says none (the machine checks
  // it names the current one). Not a move (a first enrolment, or onto the same credential): nothing left.
  const bound = ctx.dependents(application, CREDENTIAL_OF_APPLICATION)[0];
  const left = bound === undefined ? replaces : idOf(bound);
  if (left === undefined || left === credentialId) return [];
  const candidates: { stream: string; credentialId: string }[] = [];
  const out: Outcome[] = [];
  for (const s of ctx.dependents(application, 'association-of-application')) {
    const associationId = idOf(s);
    if ((await ctx.ended('association', associationId)) !== undefined) continue;
    const links = await orUnresolved(() => ctx.association(associationId));
    if (isUnresolved(links)) out.push(links);
    else if (links.established && links.onApplicationCredential === true && links.credentialId !== undefined && links.credentialId !== credentialId) {
      candidates.push({ stream: s, credentialId: links.credentialId });
    }
  }
  if (candidates.length === 0) return out;
  // Read only when an instance may be revoked: one lookup of the engine per move, not per instance.
  const usable = await orUnresolved(() => usableBy(ctx, idOf(application), credentialId));
  // Review 353: a history that cannot be read leaves no one able to say what the App-ID may use now. It fails closed:
  // the dead letter names the broken stream, and every candidate is revoked still, as the event alone shows it may no
  // longer use any (none is on the credential moved onto; only a read now could spare one). Revoking nothing instead
  // left even the instances on the credential left their access (revoked before review 347 with no read) until an
  // operator handled the dead letter. Revoking one the App-ID may in fact use again costs its instance no more than a
  // new establishment.
  if (isUnresolved(usable)) return [...out, usable, ...revokeAssociations(candidates.map((c) => c.stream), MOVED_OFF)];
  return [...out, ...revokeAssociations(candidates.filter((c) => !usable.has(c.credentialId)).map((c) => c.stream), MOVED_OFF)];
};

/**
 * The App-ID's credentials its AEs may authenticate with: the one moved onto and the one it is enrolled with now, each
 * with the successor its rotation names (appCredentialIsEnrolled).
 */
const usableBy = async (ctx: ReactionContext, appId: string, movedOnto: string): Promise<ReadonlySet<string>> => {
  const usable = new Set<string>();
  const now = await ctx.credentialOfApplicationNow(appId);
  for (const enrolledWith of now === undefined || now === movedOnto ? [movedOnto] : [movedOnto, now]) {
    usable.add(enrolledWith);
    const successor = await ctx.rotationSuccessorNow(enrolledWith);
    if (successor !== undefined) usable.add(successor);
  }
  return usable;
};

/** Why an instance authenticated with the credential its App-ID moved off is revoked (see associationsOfTheCredentialLeft). */
export const MOVED_OFF: RevocationReason = 'superseded';
