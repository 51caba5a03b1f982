/**
 * Review 189 item 4: `DELETE /v1/tokens/{tokenId}` on a token revoked already found when it was revoked by paging
 * through the whole token listing (1,000 rows a page): a cost in every token kept, for one time. It now asks the
 * access control for that token's record alone (`revokedAt`). A revocation time access.db does not read (damaged, or
 * edited by hand) is left out of the answer, as the listing leaves it out, rather than failing the request.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { useTestService } from './support/service.ts';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const svc = useTestService({}, 60_000);

const issued = async (subject: string): Promise<string> => {
  const response = await fetch(`${svc.url}/v1/tokens`, {
    method: 'POST',
    headers: { ...bearer(svc.tokens.admin), 'content-type': 'application/json' },
    body: JSON.stringify({ subject, role: 'auditor', ttl: '1h' }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return ((await response.json()) as { tokenId: string }).tokenId;
};

const revoke = (tokenId: string) => fetch(`${svc.url}/v1/tokens/${tokenId}`, { method: 'DELETE', headers: bearer(svc.tokens.admin) });

describe('DELETE /v1/tokens/{tokenId} on a token revoked already', () => {
  it('answers when it was revoked without listing the tokens', async () => {
    const tokenId = await issued('auditor-189-a');
    expect((await revoke(tokenId)).status).toBe(204);
    const list = vi.spyOn(svc.service.context.access, 'list');
    try {
      const again = await revoke(tokenId);
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({ tokenId, revokedBefore: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), chained: 0 });
      expect(list).not.toHaveBeenCalled();
    } finally {
      list.mockRestore();
    }
  });

  it('a revocation time access.db does not read is left out of the answer, not a failure', async () => {
    const tokenId = await issued('auditor-189-b');
    expect((await revoke(tokenId)).status).toBe(204);
    const db = new Database(join(svc.dir, 'access.db'));
    try {
      expect(db.prepare('UPDATE tokens SET revoked_at = ? WHERE token_id = ?').run('not a time', tokenId).changes).toBe(1);
    } finally {
      db.close();
    }
    expect(svc.service.context.access.revokedAt(tokenId)).toBeUndefined();
    const again = await revoke(tokenId);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ tokenId, chained: 0 });
  });

  it('revokedAt answers undefined for an unknown id, a malformed one and one not revoked', async () => {
    const live = await issued('auditor-189-c');
    const { access } = svc.service.context;
    expect(access.revokedAt(live)).toBeUndefined();
    expect(access.revokedAt('tok_AAAAAAAAAAAAAAAAAAAAAA')).toBeUndefined();
    expect(access.revokedAt('not-a-token-id')).toBeUndefined();
  });
});
