import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { complianceCsvName } from '../adapters/console/src/compliance-csv-name.ts';
import { ComplianceCursor, ComplianceResult } from '../adapters/console/src/schemas.ts';
import { settled } from './http-sse.fixtures.ts';
import { postCommand } from './support/console-fleet.ts';
import { issueCredentialData, profile } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Found in review of review 142: the server pages a cut `expiring` answer by a cursor of its own order,
 * `<notAfterMs>:<credentialId>`, but the console read `nextAfter` as a position only. The compliance page showed
 * "not what this console expects" instead of the rows, and a cut CSV said "narrow the parameters, or raise limit"
 * instead of the cursor to go on from. The console now reads the cursor, JSON and CSV by one schema, saves it in a
 * file name without ':', and the `after` it tells the user to set reads the next page.
 */

/**
 * Loaded by URL: the console's api.ts is typed against the DOM, which the service's tsconfig leaves out (as in
 * console-names-the-rule-each-refused-field-failed.test.ts).
 */
interface ConsoleApi {
  json<T>(path: string, schema: { parse(value: unknown): T }): Promise<T>;
  text(path: string, accept: string): Promise<{ text: string; truncated: boolean; nextAfter?: string }>;
}
const { Api, pathWith } = (await import(new URL('../adapters/console/src/api.ts', import.meta.url).href)) as {
  Api: new (base: string) => ConsoleApi;
  pathWith: (path: string, params: Readonly<Record<string, string | undefined>>) => string;
};

const DAY = 86_400_000;
// Sharing one notAfter, one with a ':' of its own: the cursor's first ':' is not its only one.
const SHARED = ['cred-a', 'cred-b', 'cred:c'];

describe("the console reads a cut expiring answer's cursor from the real service", () => {
  let svc: TestService;
  const notAfter = new Date(Math.floor(Date.now() / DAY) * DAY + 10 * DAY).toISOString();
  const api = new Api('');

  beforeAll(async () => {
    svc = await startTestService();
    await postCommand(svc, 'createSubscription', { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: new Date(Date.now() - DAY).toISOString(), notAfter: new Date(Date.now() + 365 * DAY).toISOString() });
    await postCommand(svc, 'registerNode', { nodeId: 'meter-1', profile });
    await postCommand(svc, 'enrolNode', { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: '/cse-meter-1' });
    for (const id of SHARED) await postCommand(svc, 'issueCredential', issueCredentialData(id, 'meter-1', { notBefore: new Date(Date.now() - DAY).toISOString(), notAfter }));
    await settled(svc);
    // The console asks by path on its own origin, with the auditor's token: here the service's.
    const serverFetch = globalThis.fetch;
    vi.stubGlobal('fetch', (path: string, init: RequestInit) =>
      serverFetch(`${svc.url}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${svc.tokens.auditor}` } }),
    );
  }, 120_000);
  afterAll(async () => {
    vi.unstubAllGlobals();
    await svc?.close();
  });

  it('shows the rows of a cut JSON answer, with the after of the next page, which reads the rest', async () => {
    const first = await api.json(pathWith('/v1/compliance/expiring', { days: '30', limit: '2' }), ComplianceResult);
    expect(first.rows.map((r) => r['credentialId'])).toEqual(['cred-a', 'cred-b']);
    expect(first.truncated).toBe(true);
    expect(first.nextAfter).toMatch(new RegExp(`^${Date.parse(notAfter)}:cred-b@\\d+~[0-9a-f]{8}\\.[0-9a-f]{8}$`));

    // As the form sends a pasted value: trimmed, then into the query string.
    const next = await api.json(pathWith('/v1/compliance/expiring', { days: '30', limit: '2', after: ` ${first.nextAfter!} `.trim() }), ComplianceResult);
    expect(next.rows.map((r) => r['credentialId'])).toEqual(['cred:c']);
    expect(next.truncated).toBe(false);
    expect(next.nextAfter).toBeUndefined();
  });

  it('keeps the cursor of a cut CSV, and names the file by it without a colon', async () => {
    const csv = await api.text(pathWith('/v1/compliance/expiring', { days: '30', limit: '1' }), 'text/csv');
    expect(csv.truncated).toBe(true);
    expect(csv.nextAfter).toMatch(new RegExp(`^${Date.parse(notAfter)}:cred-a@\\d+~[0-9a-f]{8}\\.[0-9a-f]{8}$`));
    const name = complianceCsvName('expiring', csv);
    expect(name).toMatch(new RegExp(`^credence-expiring-partial-next-after-${Date.parse(notAfter)}%3Acred-a%40\\d+~[0-9a-f]{8}\\.[0-9a-f]{8}\\.csv$`));
    expect(decodeURIComponent(name.slice('credence-expiring-partial-next-after-'.length, -'.csv'.length))).toBe(csv.nextAfter);

    // Past an id with a ':' of its own, every one is encoded.
    const second = await api.text(pathWith('/v1/compliance/expiring', { days: '30', limit: '1', after: `${Date.parse(notAfter)}:cred-b` }), 'text/csv');
    expect(second.text).toContain('cred:c');
    expect(complianceCsvName('expiring', { truncated: true, nextAfter: `${Date.parse(notAfter)}:cred:c` })).not.toContain(':');
    expect(complianceCsvName('actions', { truncated: true, nextAfter: '1200' })).toBe('credence-actions-partial-next-after-1200.csv');
    expect(complianceCsvName('expiring', { truncated: false })).toBe('credence-expiring.csv');
  });
});

describe('a compliance cursor', () => {
  it('is a position, or <1-19 digits>:<id> (expiring\'s and dangling-associations\'), and nothing else', () => {
    for (const cursor of ['0', '1200', '9223372036854775807', '1767225600000:cred-1', '1:urn:x~y.z_1', `1234567890123456789:${'c'.repeat(128)}`, '1042:sa-1', '12~0123abcd', '1767225600000:cred-1@12~0123abcd', '12~0123abcd.89abcdef', '12.89abcdef', '1767225600000:cred-1@12~0123abcd.89abcdef']) {
      expect(ComplianceCursor.safeParse(cursor).success, cursor).toBe(true);
    }
    for (const cursor of ['', 'cred-1', ':cred-1', '12:', '12:-bad', '12:a b', '12:a/b', '12:<b>', `12:${'c'.repeat(129)}`, `12345678901234567890:c`, '1'.repeat(21), '-1', '1e3', '12:c\n', '12~0123ABCD', '12~0123abc', '12:cred-1@x~0123abcd', '12~0123abcd.89ABCDEF', '12~0123abcd.89abcde']) {
      expect(ComplianceCursor.safeParse(cursor).success, JSON.stringify(cursor)).toBe(false);
    }
  });

  it('from a CSV header is dropped when it is not one, rather than shown as the after to set', async () => {
    vi.stubGlobal('fetch', async () => new Response('a\r\n', { headers: { 'content-type': 'text/csv', 'credence-truncated': 'true', 'credence-next-after': '12:a/../b' } }));
    try {
      const csv = await new Api('').text('/v1/compliance/expiring?days=30', 'text/csv');
      expect(csv).toEqual({ text: 'a\r\n', truncated: true });
      expect(complianceCsvName('expiring', csv)).toBe('credence-expiring-partial.csv');
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
