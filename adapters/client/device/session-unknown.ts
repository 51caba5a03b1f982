import { isServiceProblem } from '../service-problem.ts';

/**
 * Whether `error` is the service's `unknown_session` for the last message of a run (the provisioning receipt, the
 * association finish): no word that nothing was recorded. The run may have been ended by a copy of that very message
 * that got in first and was recorded (review 238: an intermediary resending the POST, or anyone replaying it), and
 * the service answers such a repeat as it answered the copy only while the run's timeout has not passed; a run ended
 * meanwhile by other messages, or lost with a restart, is told the same. So the device treats it as a lost answer.
 */
export const sessionUnknownAt = (error: unknown, step: string): boolean =>
  isServiceProblem(error, 'protocol') && error.problem['step'] === step && error.problem['reason'] === 'unknown_session';
