/**
 * The data folder's damaged database files, for the driving adapters (the service's error handler) that reach driven
 * adapters only through the composition root: a damaged file named, and what mends it (review 51).
 */
export { damagedDatabaseOf } from '../driven/files/damaged-database.ts';
