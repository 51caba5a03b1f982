/**
 * Review 219: the API explorer's files (@fastify/static, under /docs/static/) refused a path past their folder with
 * `403` of type `…/problems/http_403`, and a conditional or ranged GET they could not meet with `http_412` and
 * `http_416`: codes from the fallback for statuses the service does not map, which docs/service.md's Errors table did
 * not name. A path the file server will not read is now a path with no file, `404 route_not_found` (as a missing
 * file already was); 412 and 416 have codes of their own; and the fallback's `http_<status>` is in the table.
 * Sent with node:http, since fetch would resolve the `%2e%2e` segments before sending.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapRaisedError } from '../adapters/http/map-raised-error.ts';
import { startTestService, type TestService } from './support/service.ts';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** GET `path` exactly as written. */
const getRaw = (url: string, path: string, headers: Record<string, string> = {}): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = request({ host: hostname, port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });

/** The `status` and `code` of each row of docs/service.md's Errors table. */
const documented = (): Set<string> => {
  const doc = readFileSync(new URL('../docs/service.md', import.meta.url), 'utf8');
  const table = doc.slice(doc.indexOf('\n## Errors\n'), doc.indexOf('\n## ', doc.indexOf('\n## Errors\n') + 1));
  return new Set([...table.matchAll(/^\| (\d{3}|4xx) \| `([a-z0-9_<>]+)` \|/gm)].map(([, status, code]) => `${status} ${code}`));
};

describe('a refusal of the API explorer files answers a code the Errors table documents', () => {
  let svc: TestService;
  const PREFIX = 'https://credence.dev/problems/';

  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it.each([
    ['a path climbing out of the folder', '/docs/static/%2e%2e/%2e%2e/%2e%2e/package.json'],
    ['a path holding a NUL', '/docs/static/a%00b'],
    ['a missing file', '/docs/static/no-such-file.js'],
  ])('%s is route_not_found, as a path with no file', async (_what, path) => {
    const answer = await getRaw(svc.url, path);
    expect(answer.status).toBe(404);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = JSON.parse(answer.body) as Record<string, unknown>;
    expect(problem).toMatchObject({ type: `${PREFIX}route_not_found`, status: 404, instance: path });
    expect(answer.body).not.toContain('"credence"');
    expect(documented()).toContain('404 route_not_found');
  });

  it('a conditional GET whose If-Match the file does not meet is 412 precondition_failed', async () => {
    const answer = await getRaw(svc.url, '/docs/static/swagger-ui.css', { 'if-match': '"another"' });
    expect(answer.status).toBe(412);
    expect(JSON.parse(answer.body)).toMatchObject({ type: `${PREFIX}precondition_failed`, status: 412, instance: '/docs/static/swagger-ui.css' });
    expect(documented()).toContain('412 precondition_failed');
  });

  it('a Range past the end of the file is 416 range_not_satisfiable, with the Content-Range RFC 9110 asks for', async () => {
    const whole = await getRaw(svc.url, '/docs/static/swagger-ui.css');
    const answer = await getRaw(svc.url, '/docs/static/swagger-ui.css', { range: 'bytes=99999999-' });
    expect(answer.status).toBe(416);
    expect(answer.headers['content-range']).toBe(`bytes */${Buffer.byteLength(whole.body)}`);
    expect(JSON.parse(answer.body)).toMatchObject({ type: `${PREFIX}range_not_satisfiable`, status: 416 });
    expect(documented()).toContain('416 range_not_satisfiable');
  });

  it("the fallback for a status the service gives no code of its own is documented as http_<status>", () => {
    const teapot = Object.assign(new Error('short and stout'), { statusCode: 418 });
    expect(mapRaisedError(teapot)).toMatchObject({ status: 418, code: 'http_418', detail: "I'm a Teapot" });
    expect(documented()).toContain('4xx http_<status>');
  });
});
