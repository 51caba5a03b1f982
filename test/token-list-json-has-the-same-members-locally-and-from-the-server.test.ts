import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 406: `credence token list --json --data DIR` printed each token's access.db record spread into its summary,
 * so a row read locally carried `signedWith`, the Secure Environment handle of the key that signed it (the handle
 * `credence key destroy` takes), which GET /v1/tokens (its response schema) leaves out. A row lists the same members
 * however it is read: the summary names what it keeps, never the record's other columns.
 */
const scratch = temporaryFolders('credence-token-list-members-');

const credence = async (argv: string[]): Promise<{ code: number; out: string; err: string }> => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env: {} });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

type Row = Record<string, unknown>;
const byId = (rows: Row[]): Map<unknown, Row> => new Map(rows.map((r) => [r['tokenId'], r]));
const members = (row: Row | undefined): string[] => Object.keys(row ?? {}).sort();

describe('credence token list --json on a data folder, and GET /v1/tokens of a service on it', () => {
  it('list each token with the same members, and the local listing names no signing key handle', async () => {
    const data = join(scratch(), 'data');
    const create = async (...flags: string[]): Promise<string> => {
      const made = await credence(['token', 'create', '--data', data, '--ttl', '1h', '--json', ...flags]);
      expect(made.code, made.err).toBe(0);
      return (JSON.parse(made.out) as { tokenId: string }).tokenId;
    };
    const auditor = await create('--role', 'auditor', '--subject', 'ops');
    const scoped = await create('--role', 'integrator', '--subject', 'city-01', '--subscription', 'sub-01');
    const revoked = await create('--role', 'operator', '--subject', 'night-shift');
    expect((await credence(['token', 'revoke', revoked, '--data', data])).code).toBe(0);

    const svc = await startTestService({ dir: data });
    let served: Row[];
    let issuedWith: string;
    try {
      const issued = await fetch(`${svc.url}/v1/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${svc.tokens.admin}` },
        body: JSON.stringify({ subject: 'city-02', role: 'integrator', ttl: '1h', scope: { subscriptions: ['sub-02'] } }),
      });
      expect(issued.status).toBe(201);
      issuedWith = ((await issued.json()) as { tokenId: string }).tokenId;
      const response = await fetch(`${svc.url}/v1/tokens?limit=1000&includeExpired=true`, { headers: { authorization: `Bearer ${svc.tokens.admin}` } });
      expect(response.status).toBe(200);
      served = ((await response.json()) as { tokens: Row[] }).tokens;
    } finally {
      await svc.close();
    }

    const listed = await credence(['token', 'list', '--all', '--json', '--data', data]);
    expect(listed.code, listed.err).toBe(0);
    const local = (JSON.parse(listed.out) as { tokens: Row[] }).tokens;
    expect(local.map((r) => r['tokenId']).sort()).toEqual(served.map((r) => r['tokenId']).sort());

    const localRows = byId(local);
    const servedRows = byId(served);
    expect(localRows.get(revoked)).toMatchObject({ state: 'revoked' });
    expect(localRows.get(scoped)).toHaveProperty('scope');
    expect(localRows.get(issuedWith)).toHaveProperty('issuedWith');
    for (const tokenId of [auditor, scoped, revoked, issuedWith, ...localRows.keys()]) {
      expect(members(localRows.get(tokenId)), String(tokenId)).toEqual(members(servedRows.get(tokenId)));
    }
    expect(listed.out).not.toContain('signedWith');
    expect(listed.out).not.toMatch(/"key_/);
  }, 30_000);
});
