import { CredenceError, isCredenceError, type FieldIssue } from '../../../domain/errors.ts';
import { ProblemResponse, ServerTimeout, ServerUnreachable, UnexpectedResponse } from '../../../adapters/client/http.ts';
import type { ReceiptOutcomeUnknown } from '../../../adapters/client/device/index.ts';
import { howItSettles } from './pending-provisioning.ts';
import type { SimulatedDevice } from './simulator.ts';
import { stateFile } from './state.ts';

/**
 * What `device provision` says once its receipt was sent and no answer saying the server refused it came back, as
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
  if (cause instanceof ServerTimeout) {
    // Still a timeout, so the CLI adds its --timeout hint; its message is fixed by its constructor.
    const said = new ServerTimeout(cause.url, cause.timeoutMs);
    said.message = `${error.message}: ${next}`;
    return said;
  }
  // Made from its cause, so what the cause says of a request never sent (`unsent`) stays said.
  if (cause instanceof ServerUnreachable) return new ServerUnreachable(cause.url, cause, `${error.message}: ${next}`);
  if (cause instanceof ProblemResponse) {
    const answered = cause.status >= 500
      ? `the server failed (${cause.status}) answering the receipt of credential ${credentialId}`
      : `the answer to the receipt of credential ${credentialId} (${cause.status}) is no refusal of the server's own`;
    return new ProblemResponse(cause.status, { ...cause.problem, hint: `${answered}: ${unknown}; ${next}` }, cause.retryAfterMs);
  }
  const said = `the server's answer to the receipt of credential ${credentialId} did not come back whole: ${unknown}; ${next}`;
  if (cause instanceof UnexpectedResponse) return new UnexpectedResponse(cause.what, `${cause.detail}; ${said}`);
  if (isCredenceError(cause)) return new CredenceError({ ...cause.problem, message: `${cause.message}; ${said}` });
  const message = `${error.message}: ${next}`;
  const issue: FieldIssue = { path: 'credentialId', rule: 'provision-outcome-unknown', message };
  return new CredenceError({ code: 'validation', issues: [issue], message });
};
