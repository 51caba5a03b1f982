/**
 * Review 144 (F4): GET /v1/entities took any word as `state`, and `?kind=node&state=revokd` answered 200 with no items:
 * as if no node were revoked. A state no machine of the kind has (no machine at all, without a kind) is refused,
 * naming the states it may be, and the OpenAPI document lists them.
 */
import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

describe('GET /v1/entities?state=', () => {
  const svc = useTestService();
  const list = async (query: string) => {
    const response = await fetch(`${svc.url}/v1/entities?${query}`, { headers: { authorization: `Bearer ${svc.tokens.operator}` } });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('refuses a state a node never has, naming query.state, the rule and the states a node may be', async () => {
    const answer = await list('kind=node&state=revokd');
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ errors: [{ path: 'query.state', rule: 'unknown_state' }] });
    const [issue] = answer.body['errors'] as { message: string }[];
    for (const state of ['initialized', 'enrolled', 'associated', 'expired', 'revoked']) expect(issue!.message).toContain(state);
  });

  it("refuses a state of another kind's machine only: a pseudonym is never revoked", async () => {
    const answer = await list('kind=pseudonym&state=revoked');
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ errors: [{ path: 'query.state', rule: 'unknown_state', message: expect.stringContaining('active') }] });
    expect((answer.body['errors'] as { message: string }[])[0]!.message).not.toContain('revoked');
  });

  it("without a kind, takes any machine's state and refuses a word none has", async () => {
    expect((await list('state=revoked')).status).toBe(200);
    expect((await list('state=enrolled')).status).toBe(200);
    expect((await list('kind=node&state=revoked')).status).toBe(200);
    const answer = await list('state=Revoked');
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ errors: [{ path: 'query.state', rule: 'unknown_state' }] });
  });

  it("the OpenAPI document lists the states `state` may name", async () => {
    const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as {
      paths: Record<string, { get: { parameters: { name: string; in: string; schema: { enum?: string[] } }[] } }>;
    };
    const state = doc.paths['/v1/entities']!.get.parameters.find((p) => p.in === 'query' && p.name === 'state');
    expect(state?.schema.enum).toEqual(expect.arrayContaining(['active', 'associated', 'enrolled', 'expired', 'initialized', 'revoked']));
    expect(state?.schema.enum).not.toContain('revokd');
  });
});
