import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';

/**
 * Review 289. GET /v1/events refuses on its own with statuses the OpenAPI document named only as the generic 4XX/5XX
 * (or, for 403, as the role check's `forbidden` alone): an integrator asking `identifiers=canonical` (403
 * `unauthorised`), a resume point of another log, how an integrator learns the store was restored (409
 * `resume_point_not_in_log`), a filter its scope or the pseudonymised stream can never match, `after` with `from` (400),
 * and a server without the pseudonym key (501 `pseudonyms_unavailable`). Each is declared on that route now; other
 * routes keep the layer's own.
 *
 * And the frames' `position` was described as "also the frame's `id:`", false since review 185 (the id is
 * `<position>~<tag>`): a client built from the schema resuming with a bare position skips events without a word after
 * a restore.
 */
type Response = { description: string; content?: Record<string, { schema?: Record<string, unknown> }> };
type Doc = {
  paths: Record<string, Record<string, { responses: Record<string, Response> }>>;
  components: { schemas: Record<string, { properties?: Record<string, { description?: string }> }> };
};

describe('the OpenAPI document of the event stream', () => {
  let svc: TestService;
  let doc: Doc;
  beforeAll(async () => {
    svc = await startTestService();
    doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as Doc;
  });
  afterAll(async () => {
    await svc?.close();
  });

  const problemRef = (response: Response | undefined): unknown => response?.content?.['application/problem+json']?.schema?.['$ref'];

  it("declares the route's own refusals, each by its code or rule, as problem documents", () => {
    const responses = doc.paths['/v1/events']!.get!.responses;
    const forbidden = responses['403']!;
    expect(forbidden.description).toMatch(/`forbidden`/);
    expect(forbidden.description).toMatch(/`unauthorised`/);
    expect(forbidden.description).toMatch(/identifiers=canonical/);
    expect(responses['409']?.description).toMatch(/`resume_point_not_in_log`/);
    const invalid = responses['400']?.description;
    for (const rule of ['not_in_scope', 'not_published', 'after_with_from', 'not_told', 'pipelined_stream']) expect(invalid).toMatch(new RegExp(`\`${rule}\``));
    expect(responses['501']?.description).toMatch(/`pseudonyms_unavailable`/);
    for (const status of ['400', '403', '409', '501']) expect(problemRef(responses[status]), status).toBe('#/components/schemas/Problem');
  });

  it("keeps them off other routes: a command's 403 is the role check's alone", () => {
    const commands = doc.paths['/v1/commands']!.post!.responses;
    expect(commands['403']!.description).toMatch(/`forbidden`/);
    expect(commands['403']!.description).not.toMatch(/unauthorised/);
    expect(commands['409']?.description ?? '').not.toMatch(/resume_point_not_in_log/);
    expect(commands['501']).toBeUndefined();
  });

  it("describes a frame's position as not its id, and says to resume with the id", () => {
    for (const frame of ['OperatorFrame', 'IntegratorFrame']) {
      const position = doc.components.schemas[frame]!.properties!['position']!.description!;
      expect(position, frame).not.toMatch(/also the frame's `id:`/);
      expect(position, frame).toMatch(/`<position>~<tag>`/);
      expect(position, frame).toMatch(/Last-Event-ID/);
    }
  });
});
