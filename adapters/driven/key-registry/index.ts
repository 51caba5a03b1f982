export { KEY_REGISTRY_DB_FILE, SqliteKeyRegistry } from './sqlite-key-registry.ts';
