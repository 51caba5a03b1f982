import { basename } from 'node:path';
import type Database from 'better-sqlite3';
import { damagedDatabase } from '../../../../domain/errors.ts';
import { remedyFor } from '../../files/damaged-database.ts';

/**
 * SER-010: which stream's CredentialIssued certified a key (its SubjectPublicKeyInfo fingerprint), read through the
 * partial index events_certified_key (schema.ts), whose expression this must repeat word for word to be used. The
 * first such event, so a history written before the rule, which may hold several, names the one certified first.
 */
export const CERTIFIED_KEY_SQL =
  "SELECT stream_id FROM events WHERE type = 'CredentialIssued' AND " +
  "(CASE WHEN json_valid(data) THEN json_extract(data, '$.fingerprint') END) = ? ORDER BY position LIMIT 1";

/** Every stream whose CredentialIssued carries the key, in log order (the same index), each once. */
export const CERTIFIED_KEY_ISSUERS_SQL =
  "SELECT stream_id FROM events WHERE type = 'CredentialIssued' AND " +
  "(CASE WHEN json_valid(data) THEN json_extract(data, '$.fingerprint') END) = ? ORDER BY position";

const NAMED_TWICE_INDEX = 'events_fingerprint_named_twice';

/**
 * The first CredentialIssued row naming "fingerprint" twice, through the partial index events_fingerprint_named_twice
 * (schema.ts), whose condition this repeats word for word: one read of an index that is nearly always empty. Named:
 * SQLite's planner, with no statistics, walks every CredentialIssued row down events_type_position instead. A file
 * opened read-only that an earlier version last wrote has no such index: there the rows are walked (entity replay).
 */
export const fingerprintNamedTwiceSql = (indexed: boolean): string =>
  `SELECT position FROM events ${indexed ? `INDEXED BY ${NAMED_TWICE_INDEX} ` : ''}WHERE type = 'CredentialIssued' AND ` +
  "(CASE WHEN json_valid(data) THEN json_type(json_remove(data, '$.fingerprint'), '$.fingerprint') END) IS NOT NULL " +
  'ORDER BY position LIMIT 1';

const hasIndex = (db: Database.Database, name: string): boolean =>
  db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(name) !== undefined;

/**
 * Throws `damaged_database`, naming the row and the file, while a CredentialIssued row names "fingerprint" twice:
 * the index above files it under the first value (json_extract) while the event is the last (JSON.parse), so a key
 * it certified would be found certified by none and issued again (review 321). The store never writes such a row
 * (JSON.stringify cannot); `credence verify --data` reports it as edited.
 */
const refusingRowsNamingTheFingerprintTwice = (db: Database.Database): (() => void) => {
  const statement = db.prepare(fingerprintNamedTwiceSql(hasIndex(db, NAMED_TWICE_INDEX))).pluck();
  return () => {
    const position = statement.get() as number | bigint | undefined;
    if (position === undefined) return;
    const file = db.memory ? 'events.db' : basename(db.name);
    throw damagedDatabase(
      db.memory ? 'the event store' : db.name,
      file,
      `the CredentialIssued row at position ${position} names "fingerprint" twice, which the store never writes: SQLite reads the first value, ` +
        'the event the last, so no key can be told certified or not (credence verify --data names the row as edited)',
      remedyFor(file),
    );
  };
};

/** The stream that certified `fingerprint`, undefined when none did: one indexed read. */
export const certifiedKeyReader = (db: Database.Database): ((fingerprint: string) => string | undefined) => {
  const statement = db.prepare(CERTIFIED_KEY_SQL).pluck();
  const refuseNamedTwice = refusingRowsNamingTheFingerprintTwice(db);
  return (fingerprint) => {
    refuseNamedTwice();
    return (statement.get(fingerprint) as string | undefined) ?? undefined;
  };
};

/** The streams that issued `fingerprint`, first first: one indexed read. */
export const keyIssuersReader = (db: Database.Database): ((fingerprint: string) => readonly string[]) => {
  const statement = db.prepare(CERTIFIED_KEY_ISSUERS_SQL).pluck();
  const refuseNamedTwice = refusingRowsNamingTheFingerprintTwice(db);
  return (fingerprint) => {
    refuseNamedTwice();
    return [...new Set(statement.all(fingerprint) as string[])];
  };
};
