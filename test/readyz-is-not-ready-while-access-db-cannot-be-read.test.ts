import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 276: with access.db's reads failing (SQLITE_IOERR), every authenticated request answered 500 while /readyz
 * answered 200 ready and no component counted failing, so a load balancer kept sending requests here. access.db is
 * written by other processes too (`credence token create --data`). /readyz now reads it once, cheaply.
 */

type Get = (this: Database.Statement, ...params: unknown[]) => unknown;
const statementPrototype = Object.getPrototypeOf(new Database(':memory:').prepare('SELECT 1')) as { get: Get };
const realGet = statementPrototype.get;

/** Every `get` of a statement whose SQL matches `sql` throws as a disk that fails a read does, until `restore`. */
const failReadsOf = (sql: RegExp): void => {
  statementPrototype.get = function (this: Database.Statement, ...params: unknown[]) {
    if (sql.test(this.source)) throw new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_READ');
    return realGet.apply(this, params);
  };
};
const restore = (): void => {
  statementPrototype.get = realGet;
};

/** The access lookup of every authenticated request (registry.find), and the current signing key's row. */
const TOKEN_LOOKUP = /FROM tokens WHERE token_id = \?/;
const CURRENT_KEY = /FROM signing_keys WHERE retired_at IS NULL/;

describe('/readyz while access.db cannot be read', () => {
  const svc = useTestService({ config: { probePort: 0 } });
  afterEach(restore);

  const readyz = async (base: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const answer = await fetch(`${base}/readyz`);
    return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
  };

  it('is 503 access_db while the token lookup fails, on both ports, and ready again once it reads', async () => {
    for (const base of [svc.url, svc.service.probeUrl!]) expect((await readyz(base)).status).toBe(200);
    failReadsOf(TOKEN_LOOKUP);
    const api = await fetch(`${svc.url}/v1/projections`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(api.status).toBe(500);
    for (const base of [svc.url, svc.service.probeUrl!]) {
      const { status, body } = await readyz(base);
      expect(status).toBe(503);
      expect(body).toMatchObject({ type: 'https://credence.dev/problems/not_ready', check: 'access_db' });
      // No path of the data folder in this public answer.
      expect(JSON.stringify(body)).not.toContain(svc.dir);
    }
    // Said in the service's log as the operator needs it: which check, and SQLite's own words.
    const logged = svc.logs().filter((l) => l.includes('access_db'));
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.join('\n')).toContain('SQLITE_IOERR_READ');
    restore();
    for (const base of [svc.url, svc.service.probeUrl!]) expect((await readyz(base)).status).toBe(200);
  });

  it('is 503 access_db while the current signing key cannot be read', async () => {
    failReadsOf(CURRENT_KEY);
    const { status, body } = await readyz(svc.url);
    expect(status).toBe(503);
    expect(body).toMatchObject({ check: 'access_db' });
    restore();
    expect((await readyz(svc.url)).status).toBe(200);
  });
});
