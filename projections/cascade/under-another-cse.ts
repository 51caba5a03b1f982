import type { RevocationReason } from '../../domain/events/index.ts';
import { idOf, isUnresolved, revokeAssociations, revokeCredential, type Outcome, type Reaction } from './reaction.ts';
import { orUnresolved, type ReactionContext } from './reaction-context.ts';

/**
 * RS-01: a CSE Registree is the CSE-ID its node holds now (the association machine's registreeHeldByNode). A node
 * enrolled again under another CSE-ID (a device replacement hands the old one to another node) leaves its live
 * associations under the old one bound to an identity that is no longer its own: configured ones could never be
 * established and would stay configured for good, established ones would stay alive beside the new holder's. They
 * are revoked as `affiliationChanged` (RFC 5280 5.3.1; X.509: the subject's name or other information changed, with
 * no cause to suspect compromise): the Registree's identity moved, nothing was compromised (not `keyCompromise`), no
 * association took this one's place (not `superseded`, which this engine reads as a rotation onto a successor), and
 * the node goes on operating (not `cessationOfOperation`). Re-enrolled under the same CSE-ID (a change of
 * subscription, RS-17) the node keeps them; its credentials certified by the CA of the subscription it left do not
 * (under-another-subscription.ts, review 287), and their associations end with them. An AE Registree holds no CSE-ID of its node's (its credential's owner
 * binds it), so AE associations are left alone.
 */
export const associationsUnderAnotherCse = async (ctx: ReactionContext, node: string, cseId: string): Promise<Outcome[]> => {
  const out: Outcome[] = [];
  let heldNow: Promise<string | undefined> | undefined;
  for (const s of ctx.dependents(node, 'association-of-node')) {
    const associationId = idOf(s);
    // Ended ones stay as they ended: only what is still configured or established is bound to the old CSE-ID.
    if ((await ctx.ended('association', associationId)) !== undefined) continue;
    const links = await orUnresolved(() => ctx.association(associationId));
    if (isUnresolved(links)) out.push(links);
    else if (links.cseId !== undefined && links.cseId !== cseId && links.cseId !== (await (heldNow ??= ctx.cseIdHeldNow(idOf(node))))) {
      // Found in review: a node moved back to the association's CSE-ID since (A, B, A) holds it again, and the machine
      // let it establish there; only a CSE-ID the node holds neither at this event nor now is gone from it. This read
      // only spares a command: the node may come back between it and the commit (review 31), so the association's
      // machine reads the node again at the commit (registreeMovedAway) and refuses; the refusal is skipped (an
      // illegal transition, issue.ts), not a dead letter: the association stays, its node holds its CSE-ID.
      out.push(...revokeAssociations([s], CSE_ID_MOVED));
    }
  }
  return out;
};

/**
 * Review 44 (RS-01): a credential issued to a CSE-ID that names its node is that node's as the holder of that CSE-ID.
 * Certificates carry the CSE-ID (a `urn:onem2m:cse:` SAN), so a node enrolled again under another one leaves it
 * naming an identity the node no longer holds, which the next holder of the CSE-ID would be issued a credential for
 * beside it. It is revoked as `affiliationChanged`, as the node's associations under the old CSE-ID are (see
 * associationsUnderAnotherCse for the reason). Unlike an association it is revoked even when the node has come back
 * to that CSE-ID since (A, B, A): the CSE-ID was free for another node meanwhile, and a revoked credential is final,
 * so a rebuild and a cascade that is behind decide alike. Ended ones stay as they ended. A credential stored without
 * a node follows the identifier's holder, as it did.
 */
export const credentialsUnderAnotherCse = async (ctx: ReactionContext, node: string, cseId: string): Promise<Reaction[]> => {
  const out: Reaction[] = [];
  for (const s of ctx.dependents(node, 'credential-of-node')) {
    const credentialId = idOf(s);
    const issuedTo = ctx.cseIdOfCredential(credentialId);
    if (issuedTo === undefined || issuedTo === cseId) continue;
    if ((await ctx.ended('credential', credentialId)) !== undefined) continue;
    out.push(revokeCredential(credentialId, CSE_ID_MOVED));
  }
  return out;
};

/** Why an association under a CSE-ID its node no longer holds is revoked (see associationsUnderAnotherCse). */
export const CSE_ID_MOVED: RevocationReason = 'affiliationChanged';
