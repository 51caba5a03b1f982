export { entitiesProjection } from './projection.ts';
export { listEntities, entityRow, allEntities, countEntities } from './tables.ts';
export type { EntityRow, EntityPageQuery, EntityCount } from './tables.ts';
