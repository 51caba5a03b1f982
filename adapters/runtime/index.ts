export { openCredence } from './open-credence.ts';
export type { Credence, OpenOptions } from './open-credence.ts';
