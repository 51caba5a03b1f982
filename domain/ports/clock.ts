/**
 * Time comes in through this port so that domain, machines and projections stay pure and tests can move it.
 * Code that needs only the current instant takes `Clock['now']`.
 */
export interface Clock {
  now(): Date;
}
