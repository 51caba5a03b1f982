import { CredenceError, isCredenceError, type FieldIssue } from '../../../domain/errors.ts';
import { ProblemResponse } from '../../../adapters/client/http.ts';
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
        : `the answer to the receipt of credential ${credentialId} (${status}) does not show that nothing was recorded (it carries no proof that verifies, under the Enrolment Function key this device pinned, for this run's receipt: none, another key's, or a receipt altered on the path; such a refusal may come from anything on the path to the server)`}: ${unknown}; ${next}`,
    notWhole,
    otherwise: (other) => {
      if (isCredenceError(other)) return new CredenceError({ ...other.problem, message: `${other.message}; ${notWhole}` });
      const message = `${error.message}: ${next}`;
      const issue: FieldIssue = { path: 'credentialId', rule: 'provision-outcome-unknown', message };
      return new CredenceError({ code: 'validation', issues: [issue], message });
    },
  });
};

/**
 * The Enrolment Function's refusal of this very receipt under the key the device pinned (`refusalProof`, review 333):
 * the run destroyed the new key and nothing is kept for it, which the problem alone did not say, while the docs say
 * an untrusted refusal keeps the key pending (review 341). Any other error passes as it is.
 */
export const receiptRefused = (error: unknown, credentialId: string): unknown => {
  if (!(error instanceof ProblemResponse)) return error;
  const hint =
    `the Enrolment Function refused this receipt under the key this device pinned: nothing is kept for credential ${credentialId} ` +
    'and its new key was destroyed; mend the cause and run device provision again (under a new --credential-id if the server says this one is used)';
  return new ProblemResponse(error.status, { ...error.problem, hint }, error.retryAfterMs);
};

