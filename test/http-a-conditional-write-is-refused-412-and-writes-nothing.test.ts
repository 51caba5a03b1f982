/**
 * Review 219, finding 2: `If-Match` was ignored on POST /v1/commands: `If-Match: "no-such-etag"` was answered 201 and
 * the command written. RFC 9110 13.1.1: an origin server that receives If-Match must evaluate it, and the commands
 * resource has no current representation, so the condition is false: 412. The service takes no conditional request on
 * any write route (If-Match, If-None-Match, If-Unmodified-Since): each is refused `412 precondition_failed`, before its
 * body is read, with nothing written, and the OpenAPI document declares it on every write operation. The OCSP POST, a
 * status query that writes nothing and whose client reads OCSPResponses only, answers as it did.
 */
import { describe, expect, it } from 'vitest';
import { body } from './http-conformance.fixtures.ts';
import { useTestService, type TestService } from './support/service.ts';

type Role = keyof TestService['tokens'];
interface Operation {
  'x-credence-access'?: unknown;
  responses: Record<string, { content?: Record<string, unknown> }>;
}
type Doc = { paths: Record<string, Record<string, Operation>> };

const svc = useTestService();

const storedEvents = async (): Promise<number> => {
  let count = 0;
  for await (const _ of svc.service.context.credence.store.readAll()) count += 1;
  return count;
};

const FILLED: Readonly<Record<string, string>> = { caId: 'default', tokenId: 'x', associationId: 'a-1' };
const filled = (template: string): string => template.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(FILLED[name] ?? 'x'));

const CONDITIONS = [
  ['if-match', '"no-such-etag"'],
  ['if-match', '*'],
  ['if-none-match', '*'],
  ['if-unmodified-since', 'Sun, 06 Dec 2026 00:00:00 GMT'],
] as const;

const command = (headers: Record<string, string>, nodeId = 'meter-219') =>
  fetch(`${svc.url}/v1/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body.registerNode(nodeId)),
  });

describe('a conditional request to a write route', () => {
  it.each(CONDITIONS)('POST /v1/commands with %s: %s is refused 412 precondition_failed, nothing written', async (name, value) => {
    const before = await storedEvents();
    const refused = await command({ [name]: value });
    expect(refused.status).toBe(412);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await refused.json()) as { type: string; status: number; detail: string; header: string };
    expect(problem).toMatchObject({ type: 'https://credence.dev/problems/precondition_failed', status: 412 });
    expect(problem.header.toLowerCase()).toBe(name);
    expect(problem.detail).toMatch(/no conditional request/);
    expect(problem.detail).toMatch(/no expected revision/);
    expect(await storedEvents()).toBe(before);
  });

  it('leaves the same command, sent without one, recorded', async () => {
    const before = await storedEvents();
    const recorded = await command({}, 'meter-219-unconditional');
    expect(recorded.status).toBe(201);
    expect(await storedEvents()).toBeGreaterThan(before);
  });

  it('is refused 412 by every write operation of the OpenAPI document, which declares it there', async () => {
    const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as Doc;
    const writes = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => ['post', 'put', 'patch', 'delete'].includes(method))
        .map(([method, op]) => [method.toUpperCase(), path, op] as const),
    );
    expect(writes.length).toBeGreaterThan(10);
    const answered: string[] = [];
    for (const [method, template, op] of writes) {
      // The OCSP POST writes nothing: it asks for a status, and its client reads OCSPResponses only.
      const ocsp = template.endsWith('/ocsp');
      expect(op.responses['412']?.content?.['application/problem+json'], `${method} ${template} declares 412`)[ocsp ? 'toBeUndefined' : 'toBeDefined']();
      const access = op['x-credence-access'];
      const response = await fetch(`${svc.url}${filled(template)}`, {
        method,
        headers: {
          ...(Array.isArray(access) ? { authorization: `Bearer ${svc.tokens[access[0] as Role]}` } : {}),
          'content-type': ocsp ? 'application/ocsp-request' : 'application/json',
          'if-match': '"no-such-etag"',
        },
        ...(method === 'DELETE' ? {} : { body: ocsp ? new Uint8Array([0x30, 0x00]) : '{}' }),
      });
      await response.arrayBuffer();
      if (ocsp) expect(response.headers.get('content-type'), template).toBe('application/ocsp-response');
      else answered.push(`${method} ${template} ${response.status}`);
    }
    expect(answered.filter((line) => !line.endsWith(' 412'))).toEqual([]);
    // DELETE /v1/session was refused: the token it was sent with (the first role it allows, admin) still works.
    expect((await fetch(`${svc.url}/v1/tokens`, { headers: { authorization: `Bearer ${svc.tokens.admin}` } })).status).toBe(200);
  });

  it('is not refused on a read: a GET with If-None-Match is answered as before', async () => {
    const read = await fetch(`${svc.url}/v1/projections`, { headers: { authorization: `Bearer ${svc.tokens.auditor}`, 'if-none-match': '"x"' } });
    expect(read.status).toBe(200);
  });
});
