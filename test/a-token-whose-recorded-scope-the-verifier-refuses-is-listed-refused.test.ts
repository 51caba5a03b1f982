import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';
import { tokenListings } from './support/token-listings.ts';

/*
 * Review 146: the row's reader marked a recorded scope damaged only when its JSON failed a loose shape (up to 1000
 * strings of any form), while the verifier held it to the scope a token is issued with (well-formed ids, at most 32,
 * not empty) on an integrator's token alone. A scope of `{}`, one naming a malformed id, and one on an operator's token
 * were each listed `active` with their scope by GET /v1/tokens and `credence token list`, and refused 401 on every
 * request. Both now decide with one rule: such a row is listed `refused`, `scopeDamaged: true`, no scope, and its
 * token is still refused; a scope as issued stays listed active and accepted.
 */

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface Issued {
  readonly token: string;
  readonly tokenId: string;
}

/** The scope column each token is edited to, as a hand edit or a damaged file leaves it. */
const EDITS = {
  emptyScope: { subject: 'city-01', role: 'integrator', scope: '{}' },
  malformedId: { subject: 'city-02', role: 'integrator', scope: '{"subscriptions":["bad id!"]}' },
  operatorScope: { subject: 'ops-01', role: 'operator', scope: '{"subscriptions":["sub-01"]}' },
} as const;

let svc: TestService;
const edited: Partial<Record<keyof typeof EDITS, Issued>> = {};
let scoped: Issued;

beforeAll(async () => {
  svc = await startTestService();
  const issue = async (subject: string, role: string, scope?: unknown): Promise<Issued> => {
    const issued = await fetch(`${svc.url}/v1/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(svc.tokens.admin) },
      body: JSON.stringify({ subject, role, ttl: '1h', ...(scope !== undefined ? { scope } : {}) }),
    });
    expect(issued.status).toBe(201);
    return (await issued.json()) as Issued;
  };
  for (const [name, { subject, role }] of Object.entries(EDITS)) {
    edited[name as keyof typeof EDITS] = await issue(subject, role, role === 'integrator' ? { subscriptions: ['sub-01'] } : undefined);
  }
  scoped = await issue('city-09', 'integrator', { subscriptions: ['sub-01'] });
  const db = new Database(join(svc.dir, 'access.db'));
  try {
    const edit = db.prepare('UPDATE tokens SET scope = ? WHERE token_id = ?');
    for (const [name, { scope }] of Object.entries(EDITS)) expect(edit.run(scope, edited[name as keyof typeof EDITS]!.tokenId).changes).toBe(1);
  } finally {
    db.close();
  }
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

const { listed, cliList } = tokenListings(() => svc);

describe('a token whose recorded scope the verifier refuses', () => {
  it('is refused 401 on every request, its scope not matching its record', async () => {
    for (const [name, { token }] of Object.entries(edited)) {
      const response = await fetch(`${svc.url}/v1/events?from=end`, { headers: bearer(token) });
      expect(response.status, name).toBe(401);
      expect(await response.text(), name).toContain('scope does not match its record');
    }
  });

  it('is listed by GET /v1/tokens as refused, scope damaged and no scope, never active', async () => {
    const tokens = await listed();
    for (const [name, { tokenId }] of Object.entries(edited)) {
      const row = tokens.find((t) => t['tokenId'] === tokenId)!;
      expect(row, name).toMatchObject({ state: 'refused', scopeDamaged: true, role: EDITS[name as keyof typeof EDITS].role });
      expect(row, name).not.toHaveProperty('scope');
    }
  });

  it('is listed refused, scope damaged, by credence token list through the service and on the data folder', async () => {
    for (const flags of [[], ['--data', svc.dir]]) {
      const text = await cliList(...flags);
      expect(text.code, text.err).toBe(0);
      for (const [name, { tokenId }] of Object.entries(edited)) {
        const { subject, role } = EDITS[name as keyof typeof EDITS];
        expect(text.out.find((l) => l.startsWith(tokenId)), `${name} ${flags.join(' ')}`).toMatch(new RegExp(` ${role} +refused +\\S+ +${subject} \\(scope damaged: revoke this token\\)$`));
      }
    }
  });

  it('while a scope as issued stays listed active with its scope, and is accepted', async () => {
    expect((await listed()).find((t) => t['tokenId'] === scoped.tokenId)).toMatchObject({ state: 'active', scope: { subscriptions: ['sub-01'] } });
    expect((await listed()).find((t) => t['tokenId'] === scoped.tokenId)).not.toHaveProperty('scopeDamaged');
    const response = await fetch(`${svc.url}/v1/events?from=end`, { headers: bearer(scoped.token) });
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });
});
