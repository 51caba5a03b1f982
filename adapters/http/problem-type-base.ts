/**
 * The prefix of every problem type the service answers (RFC 9457 `type`): its own module, so that a client telling
 * the service's refusals from a gateway's (adapters/client/refused-for-good.ts) does not load the service's modules.
 */
export const PROBLEM_TYPE_BASE = 'https://credence.dev/problems/';
