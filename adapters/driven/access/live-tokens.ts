import type Database from 'better-sqlite3';
import type { LiveTokens, TokenRefusalRule } from './access-registry.ts';
import { toTokenRecord, type TokenRow } from './access-statements.ts';

/** Neither revoked nor expired at `@now` (an ISO time, compared as text, as every read of access.db does). */
const LIVE = `revoked_at IS NULL AND expires_at > @now`;

const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/**
 * A time exactly as `toISOString` writes it (a year of four digits), which SQLite and JavaScript read as the same
 * instant. Checked by its shape and ranges, a day past the 28th against the calendar: strftime on every row cost
 * 150 ms at 99,000 rows, and a form either may read otherwise (a local time, 24:00, a day past the month's last,
 * which JavaScript need not roll over as SQLite does) is judged by the rule.
 */
const isoTime = (c: string): string =>
  `(${c} GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z' AND substr(${c}, 6, 2) BETWEEN '01' AND '12'` +
  ` AND substr(${c}, 9, 2) >= '01' AND substr(${c}, 12, 2) <= '23' AND (substr(${c}, 9, 2) <= '28' OR substr(${c}, 1, 10) IS date(${c})))`;

/**
 * The rows SQL judges as the refusal rule does: a role the rule knows, both times as `toISOString` writes them, no
 * scope (its rule is a schema only JavaScript runs), a subject holding none of the rule's marks (SQLite's `lower`
 * folds ASCII letters only, all a mark is made of). Such a row is neither damaged nor reserved: refused, if at all,
 * for its lifetime. Roles and marks are the rule's, written in as literals (a JSON table per row cost 30 ms more).
 */
const judged = (rule: TokenRefusalRule): string =>
  [
    rule.roles.length === 0 ? '0' : `role IN (${rule.roles.map(literal).join(', ')})`,
    'scope IS NULL',
    isoTime('issued_at'),
    isoTime('expires_at'),
    ...rule.subjectMarks.map((mark) => `instr(lower(subject), ${literal(mark.toLowerCase())}) = 0`),
  ].join(' AND ');

/**
 * A judged row's lifetime as `refusalBySettings` computes it: whole milliseconds (julianday's difference is exact to
 * far below one), over 1000, not past `@maxTtl` (NULL: no limit).
 */
const WITHIN_LIMIT = `(@maxTtl IS NULL OR round((julianday(expires_at) - julianday(issued_at)) * 86400000) / 1000.0 <= @maxTtl)`;

type Counting = (of: string, now: Date) => LiveTokens;

/** What `kind` a live row is of: judged and counted (1), judged and refused for its lifetime (0), left to the rule (-1). */
interface KindRow {
  readonly kind: number;
  readonly count: number;
  readonly last: string;
}

/**
 * The live tokens of a subject and of a signing key (`of`) that `rule` does not refuse (review 158), counted in SQL on
 * the rows it judges alike, the others read and judged by `rule.refused` (review 166: every live row read and judged
 * took 400 ms an issue at 99,000 tokens of one subject, inside the write transaction). One pass judges each row once
 * (a COUNT and a second scan for the rows left judged them twice); the rows left are read only when there are some.
 */
export const liveTokenCounts = (db: Database.Database, rule: TokenRefusalRule): { ofSubject: Counting; signedWith: Counting } => {
  const counting = (column: 'subject' | 'signed_with'): Counting => {
    const kinds = db.prepare(
      `SELECT CASE WHEN ${judged(rule)} THEN ${WITHIN_LIMIT} ELSE -1 END AS kind, COUNT(*) AS count, MAX(expires_at) AS last
         FROM tokens WHERE ${column} = @of AND ${LIVE} GROUP BY kind`,
    );
    const unjudged = db.prepare(`SELECT * FROM tokens WHERE ${column} = @of AND ${LIVE} AND NOT (${judged(rule)})`);
    const maxTtl = Number.isFinite(rule.maxTtlSeconds) ? rule.maxTtlSeconds : null;
    return (of, now) => {
      const at = now.toISOString();
      const byKind = kinds.all({ of, now: at, maxTtl }) as KindRow[];
      const counted = byKind.find((k) => k.kind === 1);
      const read = byKind.some((k) => k.kind === -1) ? (unjudged.all({ of, now: at }) as TokenRow[]).map(toTokenRecord).filter((t) => !rule.refused(t)) : [];
      const last = read.reduce((latest, t) => Math.max(latest, t.expiresAt.getTime()), counted === undefined ? -Infinity : Date.parse(counted.last));
      return { count: (counted?.count ?? 0) + read.length, ...(Number.isFinite(last) ? { lastExpiry: new Date(last) } : {}) };
    };
  };
  return { ofSubject: counting('subject'), signedWith: counting('signed_with') };
};
