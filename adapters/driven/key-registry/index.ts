export { KEY_REGISTRY_DB_FILE, SqliteKeyRegistry, type ShredderMark } from './sqlite-key-registry.ts';
