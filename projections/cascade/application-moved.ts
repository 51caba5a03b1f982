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
 * Only the established ones: a configured one is refused at its hello and its establishment while the App-ID is
 * enrolled with another (review 249), and becomes usable again if the App-ID moves back, so it is left waiting. The
 * associations on the credential moved onto, on an AE's own credential, and of other App-IDs are not the App-ID's
 * through the credential it left, and stay.
 */
export const associationsOfTheCredentialLeft = async (
  ctx: ReactionContext,
  application: string,
  credentialId: string,
  replaces: string | undefined,
): Promise<Outcome[]> => {
  // As of the event: the read model has not applied the move yet. `replaces` when it says none (the machine checks
  // it names the current one).
  const bound = ctx.dependents(application, CREDENTIAL_OF_APPLICATION)[0];
  const left = bound === undefined ? replaces : idOf(bound);
  if (left === undefined || left === credentialId) return [];
  const out: Outcome[] = [];
  const revoked: string[] = [];
  for (const s of ctx.dependents(application, 'association-of-application')) {
    const associationId = idOf(s);
    if ((await ctx.ended('association', associationId)) !== undefined) continue;
    const links = await orUnresolved(() => ctx.association(associationId));
    if (isUnresolved(links)) out.push(links);
    else if (links.established && links.credentialId === left) revoked.push(s);
  }
  return [...out, ...revokeAssociations(revoked, MOVED_OFF)];
};

/** Why an instance authenticated with the credential its App-ID moved off is revoked (see associationsOfTheCredentialLeft). */
export const MOVED_OFF: RevocationReason = 'superseded';
