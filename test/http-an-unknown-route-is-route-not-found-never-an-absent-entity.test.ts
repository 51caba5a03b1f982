import { describe, expect, it } from 'vitest';
import { ProblemResponse } from '../adapters/client/http.ts';
import { isEntityAbsent } from '../adapters/client/entity-absent.ts';
import { refusedForGood } from '../adapters/client/refused-for-good.ts';
import { useTestService } from './support/service.ts';

// Found in review: the service answered a path no route matches with the problem type it uses for "this entity does
// not exist" (`not_found`), and the device CLI takes that as the service's word (device init's unused-id check, the
// settling of a lost receipt). A proxy routing a path to another Credence instance, or to a version without the
// route, was taken at it. An unknown route is `route_not_found` now, and no client predicate reads it as absence.

const svc = useTestService({ config: { probePort: 0 } });
const PROBLEMS = 'https://credence.dev/problems/';

const problemAt = async (url: string, init: RequestInit = {}) => {
  const answer = await fetch(url, init);
  return { status: answer.status, type: answer.headers.get('content-type'), problem: (await answer.json()) as Record<string, unknown> };
};

describe('a request no route matches', () => {
  it.each([
    ['a GET on the API port', () => problemAt(`${svc.url}/v1/nothing-here`)],
    ['a POST with a JSON body on the API port', () => problemAt(`${svc.url}/v1/nothing-here`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })],
    ['an entity read under a path prefix the service does not have', () => problemAt(`${svc.url}/older/v1/entities/node/n1`, { headers: { authorization: `Bearer ${svc.tokens.operator}` } })],
    ['a GET on the probe port', () => problemAt(`${svc.service.probeUrl!}/nothing-here`)],
  ])('%s is answered 404 route_not_found, not not_found', async (_case, ask) => {
    const { status, type, problem } = await ask();
    expect(status).toBe(404);
    expect(type).toContain('application/problem+json');
    expect(problem).toMatchObject({ type: `${PROBLEMS}route_not_found`, title: 'No such route', status: 404 });
  });

  it('leaves not_found to an entity the service does not hold', async () => {
    const { status, problem } = await problemAt(`${svc.url}/v1/entities/node/nobody-here`, { headers: { authorization: `Bearer ${svc.tokens.operator}` } });
    expect(status).toBe(404);
    expect(problem).toMatchObject({ type: `${PROBLEMS}not_found`, status: 404 });
  });

  it('says so in the OpenAPI document, beside not_found', async () => {
    const document = (await (await fetch(`${svc.url}/openapi.json`)).json()) as { info: { description: string } };
    expect(document.info.description).toContain('route_not_found');
  });
});

describe("the client's reading of a route_not_found problem", () => {
  const routeNotFound = new ProblemResponse(404, { type: `${PROBLEMS}route_not_found`, title: 'No such route', status: 404, detail: 'no route GET /v1/entities/node/n1' });
  const notFound = new ProblemResponse(404, { type: `${PROBLEMS}not_found`, title: 'Not found', status: 404, streamId: 'node-n1' });

  it('is no word that the entity is absent; the service\'s not_found is', () => {
    expect(isEntityAbsent(routeNotFound)).toBe(false);
    expect(isEntityAbsent(notFound)).toBe(true);
  });

  it("nor is an earlier version's answer to an unknown route, which was not_found with its `no route` detail (review 71)", () => {
    const earlier = new ProblemResponse(404, { type: `${PROBLEMS}not_found`, title: 'Not found', status: 404, detail: 'no route GET /v1/entities/node/n1' });
    expect(isEntityAbsent(earlier)).toBe(false);
  });

  it('is no refusal for good of what was sent (a Credence without the route did nothing with it)', () => {
    expect(refusedForGood(routeNotFound)).toBe(false);
    expect(refusedForGood(notFound)).toBe(true);
  });
});
