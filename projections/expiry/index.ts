export { expiryScheduler, SCHEDULER_ACTOR } from './scheduler.ts';
export type { ExpiryScheduler, ExpirySchedulerOptions } from './scheduler.ts';
export { rotationChainEnd } from './rotation-chain.ts';
export { expiryDeadLetterCount, expiryDeadLetters, readExpiryDeadLettersAsFound } from './dead-letters.ts';
export type { ExpiryDeadLetter } from './dead-letters.ts';
