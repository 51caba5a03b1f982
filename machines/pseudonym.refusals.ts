import { dataOf } from './guards.ts';
import type { PseudonymContext } from './pseudonym.machine.ts';
import { standing, type RefusalReasons } from './refusal-reasons.ts';

/**
 * What the pseudonym guard asks, and what it found, once it has refused (machines/refusal-reasons.ts). The node is
 * not named: the refusal's stream is the pseudonym's, and a message naming both would link them, which only auditors
 * may do (SER-011). Whoever asked for the rotation named the node.
 */
export const pseudonymRefusals: RefusalReasons<PseudonymContext> = {
  nodeIsLive: ({ event }) => {
    const d = dataOf(event, 'PseudonymRotated');
    return (
      'a pseudonym is taken by a live node (initialized, enrolled or associated), or by any recorded node as its first (trigger initial); ' +
      `its node ${standing(event.facts.node)}, and this rotation is epoch ${d?.epoch} (trigger ${d?.trigger})`
    );
  },
};
