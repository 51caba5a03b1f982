export { expiryScheduler, SCHEDULER_ACTOR } from './scheduler.ts';
export type { ExpiryScheduler } from './scheduler.ts';
export { rotationChainEnd } from './rotation-chain.ts';
