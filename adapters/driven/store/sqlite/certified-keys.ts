import type Database from 'better-sqlite3';

/**
 * SER-010: which stream's CredentialIssued certified a key (its SubjectPublicKeyInfo fingerprint), read through the
 * partial index events_certified_key (schema.ts), whose expression this must repeat word for word to be used. The
 * first such event, so a history written before the rule, which may hold several, names the one certified first.
 */
export const CERTIFIED_KEY_SQL =
  "SELECT stream_id FROM events WHERE type = 'CredentialIssued' AND " +
  "(CASE WHEN json_valid(data) THEN json_extract(data, '$.fingerprint') END) = ? ORDER BY position LIMIT 1";

/** The stream that certified `fingerprint`, undefined when none did: one indexed read. */
export const certifiedKeyReader = (db: Database.Database): ((fingerprint: string) => string | undefined) => {
  const statement = db.prepare(CERTIFIED_KEY_SQL).pluck();
  return (fingerprint) => (statement.get(fingerprint) as string | undefined) ?? undefined;
};

/** Every stream whose CredentialIssued carries the key, in log order (the same index), each once. */
export const CERTIFIED_KEY_ISSUERS_SQL =
  "SELECT stream_id FROM events WHERE type = 'CredentialIssued' AND " +
  "(CASE WHEN json_valid(data) THEN json_extract(data, '$.fingerprint') END) = ? ORDER BY position";

/** The streams that issued `fingerprint`, first first: one indexed read. */
export const keyIssuersReader = (db: Database.Database): ((fingerprint: string) => readonly string[]) => {
  const statement = db.prepare(CERTIFIED_KEY_ISSUERS_SQL).pluck();
  return (fingerprint) => [...new Set(statement.all(fingerprint) as string[])];
};
