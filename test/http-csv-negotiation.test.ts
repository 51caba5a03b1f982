/**
 * Issue 12 review: the compliance routes answered CSV to any Accept header naming text/csv, weights ignored, so
 * `Accept: text/csv;q=0` (CSV is not acceptable) got CSV. The choice now follows the header's weights (RFC 9110
 * section 12.5.1): the most specific range that matches each type decides its weight.
 */
import { describe, expect, it } from 'vitest';
import { wantsCsv } from '../adapters/http/routes/csv.ts';

describe('CSV or JSON, by the weights of the Accept header', () => {
  const cases: readonly (readonly [accept: string | undefined, csv: boolean, why: string])[] = [
    [undefined, false, 'no Accept header: JSON'],
    ['', false, 'an empty header: JSON'],
    ['text/csv', true, 'CSV asked for'],
    ['TEXT/CSV', true, 'media types are case-insensitive'],
    ['text/csv; charset=utf-8', true, 'parameters besides q do not change the match'],
    ['text/csv;q=0', false, 'CSV refused'],
    ['text/csv;q=0.000, application/json', false, 'CSV refused, JSON asked for'],
    ['application/json;q=0.5, text/csv', true, 'CSV weighs more'],
    ['text/csv;q=0.5, application/json', false, 'JSON weighs more'],
    ['text/csv;q=0.8, application/json;q=0.9', false, 'JSON weighs more, both weighted'],
    ['text/csv; q=0.001', true, 'a small weight is still acceptable when JSON is not'],
    ['text/csv, application/json', true, 'a tie goes to the range named first'],
    ['application/json, text/csv', false, 'a tie goes to the range named first'],
    ['*/*', false, 'anything: JSON, the default'],
    ['text/csv, */*', true, 'CSV named, JSON only through the wildcard'],
    ['*/*;q=0.1, text/csv', true, 'CSV named, JSON only through a light wildcard'],
    ['*/*, text/csv;q=0', false, 'CSV refused by name, whatever the wildcard says'],
    ['text/*', true, 'text of any kind: JSON is not acceptable, CSV is'],
    ['text/*;q=0.3, application/json', false, 'JSON weighs more than text of any kind'],
    ['text/csv;q=abc', false, 'a malformed weight selects nothing'],
    ['text/csv;q=1.5', false, 'a weight above 1 selects nothing'],
    ['text/csvx', false, 'another subtype'],
    ['*/csv', false, 'a wildcard type with a subtype is not a media range'],
    ['text/html, application/xhtml+xml', false, 'neither: JSON, the default'],
  ];
  it.each(cases)('Accept %j: CSV %s (%s)', (accept, csv) => {
    expect(wantsCsv(accept)).toBe(csv);
  });
});
