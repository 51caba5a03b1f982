import { describe, expect, it } from 'vitest';
import { registeredPseudonym } from './http-conformance.fixtures.ts';
import { useTestService } from './support/service.ts';

/**
 * Review 367: a 403 for the token's role carried no challenge. RFC 6750 §3 and §3.1: a request whose token is valid
 * but does not reach what it asks for is answered with `error="insufficient_scope"` in WWW-Authenticate, in the realm
 * the 401's challenge names.
 */
describe('a forbidden answer names the insufficient scope', () => {
  const svc = useTestService();
  const CHALLENGE = 'Bearer realm="credence", error="insufficient_scope"';

  it('says insufficient_scope on a 403 forbidden for the role of the token', async () => {
    const answer = await fetch(`${svc.url}/v1/tokens`, { headers: { authorization: `Bearer ${svc.tokens.integrator}` } });
    expect(answer.status).toBe(403);
    expect(((await answer.json()) as { type: string }).type).toMatch(/forbidden$/);
    expect(answer.headers.get('www-authenticate')).toBe(CHALLENGE);
  });

  it('names the realm the 401 names', async () => {
    const unauthenticated = await fetch(`${svc.url}/v1/tokens`, { headers: { authorization: 'Bearer junk' } });
    expect(unauthenticated.status).toBe(401);
    const realm = /realm="[^"]*"/.exec(unauthenticated.headers.get('www-authenticate') ?? '')?.[0];
    expect(realm).toBeDefined();
    expect(CHALLENGE).toContain(realm!);
  });

  it('says it on the event stream refused a form of identifiers the role does not receive', async () => {
    const operator = await fetch(`${svc.url}/v1/events?identifiers=pseudonymous`, { headers: { authorization: `Bearer ${svc.tokens.operator}` } });
    expect(operator.status).toBe(403);
    expect(((await operator.json()) as { type: string }).type).toMatch(/unauthorised$/);
    expect(operator.headers.get('www-authenticate')).toBe(CHALLENGE);
    const integrator = await fetch(`${svc.url}/v1/events?identifiers=canonical`, { headers: { authorization: `Bearer ${svc.tokens.integrator}` } });
    expect(integrator.status).toBe(403);
    expect(integrator.headers.get('www-authenticate')).toBe(CHALLENGE);
  });

  it('says it on the listing of pseudonyms, which is for an auditor only', async () => {
    const operator = await fetch(`${svc.url}/v1/entities?kind=pseudonym`, { headers: { authorization: `Bearer ${svc.tokens.operator}` } });
    expect(operator.status).toBe(403);
    expect(((await operator.json()) as { type: string }).type).toMatch(/unauthorised$/);
    expect(operator.headers.get('www-authenticate')).toBe(CHALLENGE);
  });

  it("says it on a pseudonym's reads refused to a role that can never resolve one, not to an auditor yet to", { timeout: 20_000 }, async () => {
    // Review 370: resolving a pseudonym is the auditor's (SER-025); an operator's or an admin's refusal is for the role.
    const pseudonym = await registeredPseudonym(svc, 'meter-scope-2');
    const asked = (path: string, token: string) => fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    for (const path of [`/v1/entities/pseudonym/${pseudonym}`, `/v1/entities/pseudonym/${pseudonym}/dependents`, `/v1/entities/pseudonym/${pseudonym}/timeline`, `/v1/entities/pseudonym/${pseudonym}/state`, `/v1/replay/pseudonym/${pseudonym}`, `/v1/transparency/evidence/pseudonym/${pseudonym}`]) {
      for (const token of [svc.tokens.operator, svc.tokens.admin]) {
        const refused = await asked(path, token);
        expect(refused.status, path).toBe(403);
        expect(((await refused.json()) as { type: string }).type, path).toMatch(/unauthorised$/);
        expect(refused.headers.get('www-authenticate'), path).toBe(CHALLENGE);
      }
      const auditor = await asked(path, svc.tokens.auditor);
      expect(auditor.status, path).toBe(403);
      expect(((await auditor.json()) as { type: string }).type, path).toMatch(/unauthorised$/);
      expect(auditor.headers.get('www-authenticate'), path).toBeNull();
    }
    // And the pseudonym's event asked for by its position (an inclusion proof).
    let position: bigint | undefined;
    for await (const e of svc.service.context.credence.store.readAll()) if (e.type === 'PseudonymRotated' && e.data['pseudonym'] === pseudonym) position = e.position;
    const proof = `/v1/transparency/proofs/inclusion?position=${String(position)}`;
    const operator = await asked(proof, svc.tokens.operator);
    expect(operator.status).toBe(403);
    expect(operator.headers.get('www-authenticate')).toBe(CHALLENGE);
    const auditor = await asked(proof, svc.tokens.auditor);
    expect(auditor.status).toBe(403);
    expect(auditor.headers.get('www-authenticate')).toBeNull();
  });

  it('is declared on each 403 whose unauthorised is for the role', async () => {
    // Review 370: the 403's declared header said the challenge was absent on every `unauthorised`.
    const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { description: string; headers?: Record<string, unknown> }> }>>;
    };
    for (const path of [
      '/v1/entities',
      '/v1/entities/{kind}/{id}',
      '/v1/entities/{kind}/{id}/dependents',
      '/v1/entities/{kind}/{id}/timeline',
      '/v1/entities/{kind}/{id}/state',
      '/v1/replay/{kind}/{id}',
      '/v1/transparency/evidence/{kind}/{id}',
      '/v1/transparency/proofs/inclusion',
      '/v1/events',
    ]) {
      const refused = doc.paths[path]?.['get']?.responses['403'];
      expect(refused?.description, path).toMatch(/`unauthorised`.*`insufficient_scope`/);
      expect(Object.keys(refused?.headers ?? {}), path).toContain('www-authenticate');
    }
  });

  it('says nothing of a scope on a 403 of the engine for who the caller is', { timeout: 20_000 }, async () => {
    // A pseudonym's history before the auditor recorded a resolution of it: refused for who asks, not for the role.
    const pseudonym = await registeredPseudonym(svc, 'meter-scope-1');
    const answer = await fetch(`${svc.url}/v1/replay/pseudonym/${pseudonym}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(answer.status).toBe(403);
    expect(((await answer.json()) as { type: string }).type).toMatch(/unauthorised$/);
    expect(answer.headers.get('www-authenticate')).toBeNull();
  });
});
