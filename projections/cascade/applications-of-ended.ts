import type { RevocationReason } from '../../domain/events/index.ts';
import { enrolmentEndReason } from '../../machines/index.ts';
import { isUnresolved, type Outcome, type Reaction } from './reaction.ts';
import { orUnresolved, type ReactionContext } from './reaction-context.ts';

/**
 * The App-IDs enrolled with a credential that ended lose their authorisation with it (seed 003 11.2.2), except
 * through a rotation: superseded by a successor of the App-ID's own that is held, or expired while its rotation to
 * one stood, they move onto it; the end follows if the App-ID's machine refuses the move (the successor ended or
 * left its validity meanwhile), so an App-ID is never left enrolled with an ended credential. A supersession with
 * nothing to move onto ends the instances' access for cessation of operation: they were not superseded.
 */
export const applicationsOfEnded = async (ctx: ReactionContext, credentialId: string, reason: RevocationReason | 'expired'): Promise<Outcome[]> => {
  const out: Outcome[] = [];
  const inherited = enrolmentEndReason(reason);
  for (const appId of ctx.applicationsEnrolledWith(credentialId)) {
    const end: Reaction = { type: 'endApplicationEnrolment', data: { appId, credentialId, reason: inherited } };
    const successor = reason === 'superseded' || reason === 'expired' ? await orUnresolved(() => ctx.successorInUse(credentialId, appId)) : undefined;
    if (isUnresolved(successor)) {
      // A rotation whose history cannot be read is nothing to move onto (no one can say the successor is held), and
      // staying enrolled with an ended credential is what seed 003 11.2.2 forbids: the enrolment ends, as for a
      // successor not held, and the broken stream is left to an operator.
      out.push(successor, end);
    } else {
      out.push(successor === undefined ? end : { type: 'enrolApplication', data: { appId, credentialId: successor, replaces: credentialId }, otherwise: end });
    }
  }
  return out;
};
