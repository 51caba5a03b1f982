import { z } from 'zod';

/**
 * Rows as CSV (RFC 4180): a header row, CRLF line ends, a field quoted when it holds a comma, a quote, a line
 * break, or a semicolon, tab or pipe (the separators of other spreadsheet locales), quotes doubled. Nested objects become dotted columns (`actor.id`), arrays a JSON cell. A cell that a
 * spreadsheet would run as a formula gets a leading apostrophe (OWASP, CSV injection; `FORMULA_START`): an actor id is
 * the caller's choice and the file goes to compliance teams' spreadsheets.
 */

const flatten = (row: Readonly<Record<string, unknown>>, prefix = '', into: Map<string, unknown> = new Map()): Map<string, unknown> => {
  for (const [key, value] of Object.entries(row)) {
    const column = `${prefix}${key}`;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) flatten(value as Record<string, unknown>, `${column}.`, into);
    else into.set(column, value);
  }
  return into;
};

const text = (value: unknown): string => {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
};

/**
 * OWASP CSV injection and ASVS 5.0 V1.2.10: a text cell whose first character is = + - @, a tab, a CR or a NUL, or
 * whose first visible one is = + - @ or its full-width form (U+FF1D, U+FF0B, U+FF0D, U+FF20): a spreadsheet that
 * trims leading blanks, or folds full-width signs (an East Asian locale), before it decides a cell is a formula
 * may run ` =1+1`, `\0=1+1` or `＝1+1` (review 58: they passed unescaped). Invisible leading characters (white
 * space, control and format characters such as U+200B) count as blanks. A text cell such as `-5` is escaped as
 * before; a number never is (`toCsv`).
 */
const FORMULA_START = /^[=+\-@\t\r\0]|^[\s\p{Cc}\p{Cf}]*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20]/u;

const cell = (value: string, numeric: boolean): string => {
  const safe = !numeric && FORMULA_START.test(value) ? `'${value}` : value;
  // Quoted too when it holds a semicolon, a tab or a pipe: a spreadsheet in a locale whose separator is `;` (or one
  // told to split on tabs) splits an unquoted cell there, and a formula after the split starts a cell of its own
  // (found in review: `x;=cmd|' /C calc'!A0` in an operator's correlationId).
  return /[",;\t|\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
};

/**
 * The columns of rows that `schema` describes, in its order, nested objects as dotted columns the way `toCsv` flattens
 * them (`causedBy.position`), optional or not. A CSV read page by page, or an empty one, keeps one header only if
 * its columns come from the schema rather than from the rows at hand (found in review: a page without a `reason`
 * had no `reason` column, and an empty answer only `position`).
 */
export const csvColumns = (schema: z.ZodObject, prefix = ''): string[] =>
  Object.entries(schema.shape).flatMap(([key, field]) => {
    const inner = unwrapped(field as z.ZodType);
    return inner instanceof z.ZodObject ? csvColumns(inner, `${prefix}${key}.`) : [`${prefix}${key}`];
  });

const unwrapped = (field: z.ZodType): z.ZodType =>
  field instanceof z.ZodOptional || field instanceof z.ZodNullable || field instanceof z.ZodDefault ? unwrapped(field.unwrap() as z.ZodType) : field;

/**
 * The CSV text of `rows`: the `columns` given lead in their order (a field a row lacks is an empty cell), then any
 * other field in order of first appearance. A route passes its row schema's `csvColumns`, so its header is the same
 * for every page and for no rows at all.
 */
export const toCsv = (rows: readonly Readonly<Record<string, unknown>>[], columns: readonly string[] = []): string => {
  const flat = rows.map((row) => flatten(row));
  const header = [...columns];
  const known = new Set(header);
  for (const row of flat) {
    for (const column of row.keys()) {
      if (known.has(column)) continue;
      known.add(column);
      header.push(column);
    }
  }
  const lines = [header.map((c) => cell(c, false)).join(',')];
  for (const row of flat) {
    lines.push(header.map((c) => {
      const value = row.get(c);
      return cell(text(value), typeof value === 'number' || typeof value === 'bigint');
    }).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
};

/** One media range of an Accept header: its type and subtype (lower case, `*` for a wildcard), weight and place. */
interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  readonly q: number;
  readonly index: number;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
// RFC 9110 section 12.4.2: a weight is 0 to 1 with at most three decimals.
const QVALUE = /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/;

/**
 * The media ranges of an Accept header (RFC 9110 section 12.5.1) with their weights (`q`, default 1). A range that
 * is not `type/subtype` (`text/csv`, `text/*`, or the wildcard of every type), or whose weight is malformed, is
 * skipped: it selects nothing. Other parameters are ignored.
 */
const mediaRanges = (accept: string): MediaRange[] =>
  accept.split(',').flatMap((part, index): MediaRange[] => {
    const [range = '', ...params] = part.split(';').map((p) => p.trim());
    const [type = '', subtype = '', extra] = range.toLowerCase().split('/');
    if (extra !== undefined || !TOKEN.test(type) || !TOKEN.test(subtype) || (type === '*' && subtype !== '*')) return [];
    let q = 1;
    for (const param of params) {
      const eq = param.indexOf('=');
      if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'q') continue;
      const value = param.slice(eq + 1).trim();
      if (!QVALUE.test(value)) return [];
      q = Number(value);
      break; // what follows the weight is accept-ext, not media-type parameters
    }
    return [{ type, subtype, q, index }];
  });

/** How an Accept header takes `type/subtype`: the most specific range that matches it decides (RFC 9110 12.5.1). */
const preference = (ranges: readonly MediaRange[], type: string, subtype: string) => {
  let best: { q: number; specificity: number; index: number } = { q: 0, specificity: -1, index: Number.MAX_SAFE_INTEGER };
  for (const r of ranges) {
    const specificity = r.type === type && r.subtype === subtype ? 2 : r.type === type && r.subtype === '*' ? 1 : r.type === '*' ? 0 : -1;
    if (specificity > best.specificity) best = { q: r.q, specificity, index: r.index };
  }
  return best;
};

/**
 * Whether the client prefers CSV to JSON, by the Accept header's weights: CSV when `text/csv` is acceptable (weight
 * above 0) and weighs more than `application/json`; on a tie, the more specific range, then the one named first.
 * JSON otherwise, and without an Accept header: `text/csv;q=0` is JSON, and so is the wildcard of every type.
 */
export const wantsCsv = (accept: string | undefined): boolean => {
  if (accept === undefined || accept.trim() === '') return false;
  const ranges = mediaRanges(accept);
  const csv = preference(ranges, 'text', 'csv');
  if (csv.q <= 0) return false;
  const json = preference(ranges, 'application', 'json');
  if (csv.q !== json.q) return csv.q > json.q;
  if (csv.specificity !== json.specificity) return csv.specificity > json.specificity;
  return csv.index < json.index;
};
