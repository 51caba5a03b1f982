import { isCredenceError } from '../../../domain/errors.ts';
import type { EnrolmentFunctionOptions } from './enrolment-options.ts';

type Admission = EnrolmentFunctionOptions['admitAuthenticatedRun'];

/** The caller's refusal of a credential id in use (anyone's): what tells a node whether an id it names exists. */
const idInUse = (error: unknown): boolean =>
  isCredenceError(error, 'validation') &&
  error.problem.code === 'validation' &&
  error.problem.issues.some((issue) => issue.path === 'credentialId' && issue.rule === 'unused');

/**
 * The caller's admission of a run whose node has proved its bootstrap (`admitAuthenticatedRun`), asked before the run
 * is remembered: its refusals end the run having written nothing and spent none of the node's runs of the replay
 * window (review 319: an `in_flight` retry, as the device is told to, spent one each, until a free id was refused
 * `too_many_runs`). All but one: a credential id in use takes a run (`remember`) on purpose, so that an authenticated
 * node learns which ids are in use only as fast as its runs allow (docs/service.md); past them it is told
 * `too_many_runs`, not whether the id is in use: the caller asks whether a run is left (`assertRunLeft`) before this,
 * so no refusal here, spending none, answers past them (review 333).
 */
export const admitAuthenticatedRun = async (
  admit: Admission,
  run: Parameters<NonNullable<Admission>>[0],
  remember: () => Promise<void>,
): Promise<void> => {
  try {
    await admit?.(run);
  } catch (error) {
    if (idInUse(error)) await remember();
    throw error;
  }
};
