import { isCredenceError } from '../../../domain/errors.ts';
import { ProblemResponse } from '../../../adapters/client/http.ts';
import { problemDocumentOf } from '../../../adapters/http/problems.ts';
import { fetchResponder, type DeviceTransport } from '../../../adapters/client/device/index.ts';
import type { PinnedResponder } from '../../../adapters/protocols/procedures/index.ts';

/** The responder a challenge step authenticates, by the step's name. */
const RESPONDER = { 'provisioning.challenge': 'enrolmentFunction', 'association.challenge': 'registrar' } as const;
const NAME = { enrolmentFunction: 'Enrolment Function', registrar: 'Registrar CSE' } as const;

/**
 * A failed proof at a challenge (`bad_signature` at `provisioning.challenge` or `association.challenge`), with a hint
 * comparing the key the device pinned at init with the one the server names now (GET /v1/enrolment or
 * /v1/registrar, as init read it): the refusal alone did not say that the server's key was another (review 302). The
 * hint is an extension member of the problem (printed by name, kept in --json). A device is never pinned again: a
 * replaced service means a device initialised again, in a new folder under a new node id (docs/service.md "What a
 * device pins"). Any other error, and a server naming the pinned key, are returned as they are.
 */
export const withPinHint = async (
  error: unknown,
  transport: DeviceTransport,
  pinned: { readonly enrolmentFunction: PinnedResponder; readonly registrar: PinnedResponder },
): Promise<unknown> => {
  if (!isCredenceError(error, 'protocol') || error.problem.code !== 'protocol' || error.problem.reason !== 'bad_signature') return error;
  const step = error.problem.step;
  if (step !== 'provisioning.challenge' && step !== 'association.challenge') return error;
  const which = RESPONDER[step];
  const ours = pinned[which];
  const theirs = await fetchResponder(transport, which).catch((read: unknown) => read instanceof Error ? read : new Error(String(read)));
  const lead = `the ${NAME[which]} key pinned at init (${ours.fingerprint})`;
  let hint: string;
  if (theirs instanceof Error) hint = `${lead} could not be compared with the server's: ${theirs.message}`;
  else if (theirs.fingerprint === ours.fingerprint && theirs.id === ours.id) return error;
  else {
    hint = `${lead} is not the server's: the server's is ${theirs.fingerprint}${theirs.id !== ours.id ? ` (as ${theirs.id}, pinned as ${ours.id})` : ''}. ` +
      'A device is never pinned again: if the service was replaced on purpose (compare its fingerprint out of band), initialise this device again in a new folder under a new node id (device init); if not, do not trust this server';
  }
  const problem = problemDocumentOf(error);
  return new ProblemResponse(problem.status, { ...problem, hint });
};
