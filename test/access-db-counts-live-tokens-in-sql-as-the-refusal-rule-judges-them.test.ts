/**
 * Review 166 (F4): a subject's count against its cap, and a signing key's live tokens, were judged in JavaScript on
 * every live row, read whole inside the write transaction (400 ms an issue at 99,000 tokens of one subject). They are
 * counted in SQL on the rows it judges as the refusal rule does, and the rule itself runs on the others only. Whatever
 * the row, the count is the one `refusalOfRecord` gives: each kind of row below, under a lifetime limit and none.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toTokenRecord, type TokenRow } from '../adapters/driven/access/access-statements.ts';
import { ACCESS_DB_FILE, openAccessRegistry } from '../adapters/driven/access/index.ts';
import { refusedUnder } from '../adapters/http/auth/token-refusal.ts';

const dir = mkdtempSync(join(tmpdir(), 'credence-sql-count-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NOW = '2026-12-05T12:00:00.000Z';
const DAY = 86_400;
const at = (offsetSeconds: number): string => new Date(Date.parse(NOW) + offsetSeconds * 1000).toISOString();
const SCOPE = JSON.stringify({ subscriptions: ['sub-1'] });

type Row = Partial<Omit<TokenRow, 'seq' | 'token_id'>>;
const valid = (row: Row): Row => ({ subject: 'alice', role: 'auditor', issued_at: at(-3_600), expires_at: at(3_600), signed_with: 'k1', ...row });
const ROWS: Row[] = [
  valid({}),
  valid({ issued_at: at(-DAY / 2), expires_at: at(DAY / 2) }), // lifetime exactly the limit
  valid({ issued_at: at(-DAY / 2), expires_at: new Date(Date.parse(at(DAY / 2)) + 1).toISOString() }), // 1 ms past it
  valid({ issued_at: at(-DAY), expires_at: at(DAY) }), // too long
  valid({ issued_at: at(-7_200), expires_at: at(-1) }), // expired
  valid({ revoked_at: at(-60) }),
  valid({ role: 'superuser' }),
  valid({ issued_at: 'yesterday' }),
  valid({ expires_at: 'zzzz' }), // live as text, no instant
  valid({ issued_at: '2026-12-05T11:00:00Z' }), // an instant, not as toISOString writes it
  valid({ issued_at: '2026-12-01T00:00:00Z', expires_at: at(DAY) }), // so, and too long
  valid({ issued_at: '2026-02-30T00:00:00.000Z' }), // a day that is not, read as 2 March: too long
  valid({ issued_at: '2026-12-05T11:00:00.000+01:00' }),
  valid({ role: 'integrator', scope: SCOPE }),
  valid({ role: 'integrator', scope: '{' }),
  valid({ role: 'integrator', scope: '{}' }),
  valid({ scope: SCOPE }), // a scope on an auditor's token
  valid({ subject: 'alice-maf:x' }), // holds a mark, not reserved
  valid({ subject: ' SYSTEM:expiry-scheduler' }),
  valid({ subject: 'maf:infrastructure' }),
  valid({ subject: '\u00a0Maf:other', expires_at: at(2 * DAY), issued_at: at(0) }),
  valid({ subject: 'bob', expires_at: at(DAY / 4) }),
  valid({ subject: 'bob', expires_at: at(DAY / 3), signed_with: 'k2' }),
];
const SUBJECTS = ['alice', 'bob', 'alice-maf:x', ' SYSTEM:expiry-scheduler', 'maf:infrastructure', '\u00a0Maf:other'];

const db = openAccessRegistry({ dir });
afterAll(() => db.close());
db.claimSigningKey('k1', new Date(NOW));
const raw = new Database(join(dir, ACCESS_DB_FILE));
const insert = raw.prepare(
  `INSERT INTO tokens (token_id, subject, role, issued_at, expires_at, issued_by, revoked_at, signed_with, scope)
     VALUES (@token_id, @subject, @role, @issued_at, @expires_at, 'test', @revoked_at, @signed_with, @scope)`,
);
ROWS.forEach((row, i) => insert.run({ revoked_at: null, scope: null, ...row, token_id: `tok_row${i}` }));
const stored = raw.prepare(`SELECT * FROM tokens`).all() as TokenRow[];
raw.close();

describe('access.db counts live tokens in SQL as the refusal rule judges them', () => {
  for (const [name, maxTtlSeconds] of [
    ['a day', DAY],
    ['no lifetime limit', Number.POSITIVE_INFINITY],
  ] as const) {
    const rule = refusedUnder(maxTtlSeconds);
    /** What the rule alone says: every row read, judged by refusalOfRecord. */
    const expected = (keep: (r: TokenRow) => boolean) => {
      const live = stored.filter((r) => keep(r) && r.revoked_at === null && r.expires_at > NOW && !rule.refused(toTokenRecord(r)));
      const last = Math.max(...live.map((r) => Date.parse(r.expires_at)));
      return { count: live.length, ...(Number.isFinite(last) ? { lastExpiry: new Date(last) } : {}) };
    };

    it(`under ${name}: a signing key's live tokens and the last of their expiries`, () => {
      for (const key of ['k1', 'k2', 'k3']) expect(db.liveSignedWith(key, new Date(NOW), rule), key).toEqual(expected((r) => r.signed_with === key));
    });

    it(`under ${name}: a subject's live tokens against its cap`, () => {
      for (const subject of SUBJECTS) {
        const { count } = expected((r) => r.subject === subject);
        const probe = (max: number, tokenId: string) =>
          db.record({ tokenId, subject, role: 'auditor', issuedAt: new Date(NOW), expiresAt: new Date(at(60)), issuedBy: 'probe', signedWith: 'k1', maxActiveForSubject: max, refused: rule });
        if (count > 0) expect(probe(count, 'tok_probe_full'), subject).toBe('subject_full');
        const id = `tok_probe_${maxTtlSeconds}_${subject.trim()}`;
        expect(probe(count + 1, id), subject).toBe('recorded');
        db.revoke(id, new Date(NOW), 'probe');
      }
    });
  }

  it('judges each kind of row: the mix holds live and refused ones under either limit', () => {
    const mine = stored.filter((r) => r.signed_with === 'k1' && r.revoked_at === null && r.expires_at > NOW);
    expect(mine.filter((r) => refusedUnder(DAY).refused(toTokenRecord(r))).length).toBe(13);
    expect(mine.filter((r) => refusedUnder(Number.POSITIVE_INFINITY).refused(toTokenRecord(r))).length).toBe(9);
  });
});
