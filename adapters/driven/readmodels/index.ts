export { openReadModels, READ_MODELS_DB_FILE } from './open.ts';
export type { ReadModelDb } from './open.ts';
