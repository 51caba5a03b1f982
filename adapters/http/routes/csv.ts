/**
 * Rows as CSV (RFC 4180): a header row, CRLF line ends, a field quoted when it holds a comma, a quote or a line
 * break, quotes doubled. Nested objects become dotted columns (`actor.id`), arrays a JSON cell. A cell that a
 * spreadsheet would run as a formula (it starts with = + - @, a tab or a CR) gets a leading apostrophe (OWASP, CSV
 * injection): an actor id is the caller's choice and the file goes to compliance teams' spreadsheets.
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

const cell = (value: string, numeric: boolean): string => {
  const safe = !numeric && /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
};

/** The CSV text of `rows`; `first` columns lead (e.g. the proving position), the rest in order of first appearance. */
export const toCsv = (rows: readonly Readonly<Record<string, unknown>>[], first: readonly string[] = []): string => {
  const flat = rows.map((row) => flatten(row));
  const columns = [...first];
  for (const row of flat) for (const column of row.keys()) if (!columns.includes(column)) columns.push(column);
  const lines = [columns.map((c) => cell(c, false)).join(',')];
  for (const row of flat) {
    lines.push(columns.map((c) => {
      const value = row.get(c);
      return cell(text(value), typeof value === 'number' || typeof value === 'bigint');
    }).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
};

/** Whether the client asked for CSV rather than JSON (an Accept header naming text/csv). */
export const wantsCsv = (accept: string | undefined): boolean => accept !== undefined && /(^|[\s,])text\/csv(\s*(;|,|$))/i.test(accept);
