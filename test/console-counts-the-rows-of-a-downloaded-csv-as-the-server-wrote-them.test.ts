/**
 * Review 248: Download CSV runs the query again, so the file could hold other rows than the table shown, without a
 * word. The page now says so beside the button and, after the download, how many rows the file holds: counted as the
 * server writes its CSV (RFC 4180), a line break inside a quoted field not ending a row.
 */
import { describe, expect, it } from 'vitest';
import { toCsv } from '../adapters/http/routes/csv.ts';
import { csvRowCount } from '../adapters/console/src/csv-rows.ts';

describe("the rows of a compliance query's CSV", () => {
  it('counts records under the header, whatever their quoted cells hold', () => {
    const rows = [
      { position: 1, id: 'a', correlationId: 'line one\r\nline two' },
      { position: 2, id: 'b"q"', correlationId: 'x;=cmd|\' /C calc\'!A0' },
      { position: 3, id: 'c', correlationId: '"\n"' },
    ];
    expect(csvRowCount(toCsv(rows, ['position', 'id', 'correlationId']))).toBe(3);
    expect(csvRowCount(`${toCsv(rows, ['position', 'id', 'correlationId'])}\r\n`)).toBe(3);
  });

  it('counts none in a header alone, or an empty answer', () => {
    expect(csvRowCount(toCsv([], ['position', 'id']))).toBe(0);
    expect(csvRowCount('')).toBe(0);
  });
});
