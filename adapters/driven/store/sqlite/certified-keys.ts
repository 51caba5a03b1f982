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
 * Every CredentialIssued row with a member SQLite reads as "fingerprint" twice (review 325: a name json_extract matches
 * to $.fingerprint, such as "fingerprint\u0000", counts), its position, the value SQLite's key index files it under and
 * its whole data, through the partial index events_fingerprint_named_twice (schema.ts), whose condition this repeats
 * word for word: one read of an index that is nearly always empty. Named: SQLite's planner, with no statistics, walks
 * every CredentialIssued row down events_type_position instead. A file opened read-only that an earlier version last
 * wrote has no such index: there the rows are walked, once per opened store (namedTwiceChecks).
 */
export const fingerprintNamedTwiceSql = (indexed: boolean): string =>
  "SELECT position, json_extract(data, '$.fingerprint'), data FROM events " +
  `${indexed ? `INDEXED BY ${NAMED_TWICE_INDEX} ` : ''}WHERE type = 'CredentialIssued' AND ` +
  "(CASE WHEN json_valid(data) THEN json_type(json_remove(data, '$.fingerprint'), '$.fingerprint') END) IS NOT NULL " +
  'ORDER BY position';

const hasIndex = (db: Database.Database): boolean =>
  db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(NAMED_TWICE_INDEX) !== undefined;

/** One such row: where it is and the keys it can make the index answer wrongly for. */
interface RowReadTwice {
  readonly position: bigint | number;
  /** The value the index files it under (json_extract: the first) and the event's (JSON.parse: the last). */
  readonly keys: readonly unknown[];
}

const rowReadTwice = ([position, filed, data]: [bigint | number, unknown, string]): RowReadTwice => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    parsed = undefined;
  }
  const event = typeof parsed === 'object' && parsed !== null ? (parsed as { fingerprint?: unknown }).fingerprint : undefined;
  return { position, keys: [filed, event] };
};

export interface NamedTwiceChecks {
  /**
   * A decision's check (the engine's certified-key fact read, the append's certifiesKey): throws `damaged_database`,
   * naming the row and the file, while any such row is there: the index may file a key it certified under another, so
   * the key would be found certified by none and issued again (review 321), and which one cannot be told.
   */
  every(): void;
  /**
   * A read path's check (entity replay, history, state): throws the same only when a row's two values include
   * `fingerprint`, the one lookup such a row can answer wrongly; every other key is looked up as ever (review 325).
   */
  of(fingerprint: string): void;
}

/**
 * The checks for rows SQLite reads with "fingerprint" twice. The store never writes such a row (JSON.stringify
 * cannot); `credence verify --data` reports a row naming a member twice as edited. A file with the index is read on
 * each check (one read of an empty index), since another connection may change the file; one without it (opened
 * read-only, never written by this version) is walked at its first check only, not at each key lookup (review 325).
 */
export const namedTwiceChecks = (db: Database.Database): NamedTwiceChecks => {
  const indexed = hasIndex(db);
  const statement = db.prepare(fingerprintNamedTwiceSql(indexed)).raw(true);
  let walked: readonly RowReadTwice[] | undefined;
  const rows = (): readonly RowReadTwice[] => {
    if (!indexed && walked !== undefined) return walked;
    const found = (statement.all() as [bigint | number, unknown, string][]).map(rowReadTwice);
    if (!indexed) walked = found;
    return found;
  };
  const refuse = (row: RowReadTwice): never => {
    const file = db.memory ? 'events.db' : basename(db.name);
    throw damagedDatabase(
      db.memory ? 'the event store' : db.name,
      file,
      `the CredentialIssued row at position ${row.position} has a member SQLite reads as "fingerprint" twice, which the store never writes: ` +
        "SQLite's key index reads the first value, the event the last, so a key it names cannot be told certified or not " +
        '(credence verify --data names a row naming a member twice as edited)',
      remedyFor(file),
    );
  };
  return {
    every: () => {
      const [first] = rows();
      if (first !== undefined) refuse(first);
    },
    of: (fingerprint) => {
      const row = rows().find(({ keys }) => keys.includes(fingerprint));
      if (row !== undefined) refuse(row);
    },
  };
};

/** The stream that certified `fingerprint`, undefined when none did: one indexed read (the caller checks namedTwiceChecks). */
export const certifiedKeyReader = (db: Database.Database): ((fingerprint: string) => string | undefined) => {
  const statement = db.prepare(CERTIFIED_KEY_SQL).pluck();
  return (fingerprint) => (statement.get(fingerprint) as string | undefined) ?? undefined;
};

/** The streams that issued `fingerprint`, first first: one indexed read (the caller checks namedTwiceChecks). */
export const keyIssuersReader = (db: Database.Database): ((fingerprint: string) => readonly string[]) => {
  const statement = db.prepare(CERTIFIED_KEY_ISSUERS_SQL).pluck();
  return (fingerprint) => [...new Set(statement.all(fingerprint) as string[])];
};
