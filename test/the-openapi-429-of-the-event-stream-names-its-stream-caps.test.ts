import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';

/**
 * Found in review 242: GET /v1/events answers 429 `too_many_streams` past its caps of open streams (per principal and
 * service-wide), and its OpenAPI document described its 429 as `rate_limited` only. It names both now; other routes
 * keep the rate limit's.
 */
describe("the OpenAPI document's 429", () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('names too_many_streams for the event stream, with Retry-After, and only rate_limited elsewhere', async () => {
    const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { description: string; headers?: Record<string, unknown> }> }>>;
    };
    const events = doc.paths['/v1/events']!.get!.responses['429']!;
    expect(events.description).toMatch(/`too_many_streams`/);
    expect(events.description).toMatch(/`rate_limited`/);
    expect(Object.keys(events.headers ?? {}).map((h) => h.toLowerCase())).toContain('retry-after');
    const commands = doc.paths['/v1/commands']!.post!.responses['429']!;
    expect(commands.description).toMatch(/`rate_limited`/);
    expect(commands.description).not.toMatch(/too_many_streams/);
  });
});
