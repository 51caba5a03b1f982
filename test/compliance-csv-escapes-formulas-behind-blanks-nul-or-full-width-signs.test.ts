/**
 * Review 58: a CSV cell was escaped only when its first character was = + - @, a tab or a CR. A NUL first
 * (`\0=1+1`), blanks before the sign (` =1+1`) or a full-width sign (`＝1+1`) passed unescaped, in
 * GET /v1/compliance/actions with Accept: text/csv and so in the console's Download CSV. OWASP and ASVS 5.0 V1.2.10:
 * the first character = + - @ TAB CR NUL, or a first visible one = + - @ or its full-width form, gets the leading
 * apostrophe; the value is otherwise kept exactly, and ordinary values are untouched.
 */
import { describe, expect, it } from 'vitest';
import { toCsv } from '../adapters/http/routes/csv.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { parseCsv } from './support/csv.ts';
import { startTestService, type TestService } from './support/service.ts';
import { recordAsAnEarlierVersion, subscriptionOfAnEarlierVersion } from './support/recorded-by-an-earlier-version.ts';

/** The one cell `value` becomes, read back from the CSV text. */
const cellOf = (value: unknown): string => parseCsv(toCsv([{ position: '1', value }], ['position']))[1]![1]!;

const ESCAPED: readonly (readonly [value: string, why: string])[] = [
  ['=1+1', 'an equals sign first'],
  ['+1+1', 'a plus sign first'],
  ['-1+1', 'a minus sign first'],
  ['@SUM(A1)', 'an at sign first'],
  ['\t=1+1', 'a tab first'],
  ['\r=1+1', 'a CR first'],
  ['\u0000=1+1', 'a NUL first'],
  ['\u0000', 'a NUL alone'],
  [' =1+1', 'a space before the sign'],
  ['   +1+1', 'spaces before the sign'],
  ['\n-1+1', 'a line feed before the sign'],
  ['\u00a0=1+1', 'a no-break space before the sign'],
  ['\u3000=1+1', 'an ideographic space before the sign'],
  ['\u200b=1+1', 'a zero-width space before the sign'],
  ['\u0001=1+1', 'a control character before the sign'],
  ['\uff1d1+1', 'a full-width equals sign'],
  ['\uff0b1+1', 'a full-width plus sign'],
  ['\uff0d1+1', 'a full-width minus sign'],
  ['\uff20SUM(A1)', 'a full-width at sign'],
  [' \uff1d1+1', 'a space before a full-width equals sign'],
  ['-5', 'a negative number as text (escaped before this change too: a text cell is not known to be a number)'],
  [' -5', 'a negative number as text behind a space, as without it'],
];

const UNCHANGED: readonly (readonly [value: unknown, cell: string, why: string])[] = [
  [-5, '-5', 'a negative number (a JSON number is never escaped)'],
  [0, '0', 'zero'],
  ['2026-12-03T16:49:55.000Z', '2026-12-03T16:49:55.000Z', 'an ISO date-time'],
  ['2026-12-03', '2026-12-03', 'an ISO date'],
  ['credential-gw-c1', 'credential-gw-c1', 'a stream id'],
  ['6f1c2a9e-0b7d-4c53-9a8e-2f1d3c4b5a69', '6f1c2a9e-0b7d-4c53-9a8e-2f1d3c4b5a69', 'a UUID'],
  ['/cse-gw', '/cse-gw', 'a CSE-ID'],
  ['system:process-manager', 'system:process-manager', 'a system actor'],
  ['a=b+c', 'a=b+c', 'signs after the first visible character'],
  [' 5', ' 5', 'a space before a digit'],
  [' ', ' ', 'a space alone'],
  ['', '', 'an empty text'],
  ['\uff45vent', '\uff45vent', 'a full-width letter'],
];

describe('CSV cells a spreadsheet could run as a formula', () => {
  it.each(ESCAPED)('%j gets the leading apostrophe (%s), otherwise exact', (value) => {
    expect(cellOf(value)).toBe(`'${value}`);
  });

  it.each(UNCHANGED)('%j stays %j (%s)', (value, cell) => {
    expect(cellOf(value)).toBe(cell);
  });

  it('defuses them in GET /v1/compliance/actions as CSV, where the JSON keeps each value exactly', async () => {
    const svc: TestService = await startTestService();
    try {
      const api: Api = await openApi(svc);
      const sent = ['\u0000=1+1', ' =1+1', '\uff1d1+1', '\uff0b1+1', '\uff0d1+1', '\uff20SUM(A1)', 'corr-plain'];
      for (const [i, correlationId] of sent.entries()) {
        // A NUL is no visible text, refused from a sender since review 186: recorded as an earlier version did.
        if (correlationId.includes('\u0000')) {
          await recordAsAnEarlierVersion(svc.service.context.credence.store, subscriptionOfAnEarlierVersion(`sub-${i}`, correlationId));
          continue;
        }
        const reply = await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: { ...body.createSubscription(`sub-${i}`), correlationId } });
        expect(reply.status, JSON.stringify(correlationId)).toBe(201);
      }
      await settled(svc);
      const query = (accept: string) =>
        api.call<any>('GET', '/v1/compliance/{query}', { query: 'actions' }, { token: svc.tokens.auditor, accept, query: { actor: 'test-operator' } });

      const json = await query('application/json');
      expect(json.body.rows.map((r: { correlationId: string }) => r.correlationId)).toEqual(sent);
      const [header, ...rows] = parseCsv((await query('text/csv')).text);
      const column = header!.indexOf('correlationId');
      expect(rows.map((r) => r[column])).toEqual([...sent.slice(0, -1).map((v) => `'${v}`), 'corr-plain']);
    } finally {
      await svc.close();
    }
  }, 120_000);
});
