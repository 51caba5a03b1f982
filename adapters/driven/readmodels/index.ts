export { openReadModels } from './open.ts';
export type { ReadModelDb } from './open.ts';
