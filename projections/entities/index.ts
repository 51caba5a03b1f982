export { entitiesProjection } from './projection.ts';
export { listEntities, entityRow, allEntities } from './tables.ts';
export type { EntityRow, EntityPageQuery } from './tables.ts';
