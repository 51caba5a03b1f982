import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Page sizes and tree sizes in query strings were read with z.coerce.number: `limit=0x10` was 16 and `limit=1e2`
 * 100, values the caller did not write (found in review). They are decimal digits only, as the CLI's and the
 * configuration's numbers are, and anything else is refused naming the parameter.
 */
describe('numbers in query strings', () => {
  const svc = useTestService();
  const get = (path: string, role: 'operator' | 'admin' | 'auditor' = 'operator') =>
    fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.tokens[role]}` } });

  it.each([
    ['/v1/entities?kind=node&limit=', 'operator', 'query.limit'],
    ['/v1/replay?limit=', 'operator', 'query.limit'],
    ['/v1/tokens?limit=', 'admin', 'query.limit'],
    ['/v1/entities/node/meter-1/dependents?limit=', 'operator', 'query.limit'],
    ['/v1/transparency/proofs/consistency?to=5&from=', 'auditor', 'query.from'],
  ] as const)('%s takes decimal digits only', async (path, role, field) => {
    for (const written of ['0x10', '1e1', '+16', ' 16', '16.0']) {
      const response = await get(`${path}${encodeURIComponent(written)}`, role);
      expect(response.status, `${path}${written}`).toBe(400);
      const problem = (await response.json()) as { errors?: { path: string; message: string }[] };
      expect(problem.errors?.map((e) => e.path)).toEqual([field]);
      expect(problem.errors?.[0]?.message).toMatch(/decimal digits/);
    }
    expect((await get(`${path}3`, role)).status).not.toBe(400);
  });
});
