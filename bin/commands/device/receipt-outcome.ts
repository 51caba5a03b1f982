import { CredenceError, isCredenceError, type FieldIssue } from '../../../domain/errors.ts';
import type { ReceiptOutcomeUnknown } from '../../../adapters/client/device/index.ts';
import { unknownOutcomeInKind } from './outcome-unknown.ts';
import { howItSettles } from './pending-provisioning.ts';
import type { SimulatedDevice } from './simulator.ts';
import { stateFile } from './state.ts';

/**
 * What `device provision` says once its receipt was sent and no answer saying the server recorded it came back, as
 * `device associate` says a finish's unknown outcome (finish-outcome.ts): the error keeps its kind, and says whose
 * outcome is unknown, why, and what the device does next. Review 252: a server's 500 to the receipt (its disk full)
 * was `refused (validation): invalid device folder: …`, a fault of the folder, which was fine. A server's answer keeps
 * its problem document, what comes next its `hint` member; an answer the client cannot read, its detail; a local
 * check's refusal, its code. A timeout or a connection lost stays the server not answering, exit 3, as the finish's
 * does (found in review: it was a refusal, exit 1, while the finish's was exit 3); anything else is a refusal of rule
 * `provision-outcome-unknown`, which names no folder.
 */
export const receiptOutcomeUnknown = (sim: SimulatedDevice, error: ReceiptOutcomeUnknown): unknown => {
  const { credentialId, cause } = error;
  const next = `this device keeps the new key, named as pending in ${stateFile(sim.dir)}, and provisions no other credential until it is settled: ` +
    howItSettles(sim.state.provisioning);
  const unknown = `whether it recorded credential ${credentialId} is not known`;
  const notWhole = `the server's answer to the receipt of credential ${credentialId} did not come back whole: ${unknown}; ${next}`;
  return unknownOutcomeInKind(cause, {
    notAnswered: () => `${error.message}: ${next}`,
    problemHint: (status) =>
      `${status >= 500
        ? `the server failed (${status}) answering the receipt of credential ${credentialId}`
        : `the answer to the receipt of credential ${credentialId} (${status}) does not show that nothing was recorded (a refusal is not signed by the Enrolment Function the device pinned: one may come from anything on the path to the server)`}: ${unknown}; ${next}`,
    notWhole,
    otherwise: (other) => {
      if (isCredenceError(other)) return new CredenceError({ ...other.problem, message: `${other.message}; ${notWhole}` });
      const message = `${error.message}: ${next}`;
      const issue: FieldIssue = { path: 'credentialId', rule: 'provision-outcome-unknown', message };
      return new CredenceError({ code: 'validation', issues: [issue], message });
    },
  });
};
