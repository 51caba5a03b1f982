import { assertUsableCredential } from '../../../domain/protocols/protocol.ts';
import type { ProvisioningHello } from '../../../domain/protocols/enrolment-messages.ts';
import { realRefusal } from '../shared/decoy.ts';
import type { EnrolmentFunctionOptions } from './enrolment-options.ts';

/**
 * The bootstrap a run's hello found usable, read again by the hello's own lookup (`resolveBootstrap`) once the node's
 * auth proof verified, before anything is remembered, made or delivered for the run: it may have ended since (an
 * operator revoked it or its node, its window passed). An asymmetric bootstrap has no key at the Enrolment Function
 * for the shredder to destroy, so nothing else ended such a run (found in review 64: a bootstrap revoked for
 * keyCompromise after the hello still got the delivery). Only a node whose proof verified gets here, the holder, and
 * it is told why (`credential_revoked`, `credential_expired`, ...), as a decoy run's holder is (`refuseDecoyFinish`);
 * a stranger's proof failed before, so the extra read tells a stranger nothing.
 */
export const assertBootstrapStillUsable = async (
  step: string,
  resolveBootstrap: EnrolmentFunctionOptions['resolveBootstrap'],
  hello: Pick<ProvisioningHello, 'nodeId' | 'bootstrap'>,
  now: Date,
): Promise<void> => {
  const resolved = await resolveBootstrap(hello.nodeId);
  try {
    assertUsableCredential(step, resolved, hello.bootstrap, now, `bootstrap of ${hello.nodeId}`);
  } catch (error) {
    // At a hello the refusal is concealed (`unusableCredential`); past the holder's proof its real reason is the answer.
    throw realRefusal(error);
  }
};
