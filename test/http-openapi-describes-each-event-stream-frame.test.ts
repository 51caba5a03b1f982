/**
 * Review 60, finding 5: the JSON of each kind of frame GET /v1/events sends is a component of the OpenAPI document,
 * named from the stream's schema (`x-credence-frames`), and the frames the service sends validate against it: an
 * operator's canonical event, an integrator's pseudonymised one, and the `dropped` frame that ends a stream.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';
import { dataOf, openStream, ops, type RawStream } from './http-sse.fixtures.ts';

describe('the OpenAPI document describes each frame of the event stream', () => {
  let svc: TestService;
  let validate: (component: string, value: unknown) => { ok: boolean; errors: unknown };
  let frames: Record<string, { $ref: string }>;
  beforeAll(async () => {
    svc = await startTestService();
    const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: Record<string, unknown> }> }> }>>;
    };
    frames = doc.paths['/v1/events']!['get']!.responses['200']!.content['text/event-stream']!.schema['x-credence-frames'] as typeof frames;
    const ajv = new Ajv2020({ strict: false, validateSchema: false, validateFormats: false, allErrors: true });
    ajv.addSchema(doc as object, 'openapi.json');
    validate = (ref, value) => {
      const check = ajv.compile({ $ref: `openapi.json${ref}` });
      return { ok: check(value), errors: check.errors };
    };
    const { engine } = svc.service.context.credence;
    await engine.execute(ops.createSubscription('frames-sub'));
    await engine.execute(ops.registerNode('frames-node'));
  }, 30_000);
  afterAll(async () => {
    await svc?.close();
  });

  const firstEvent = async (s: RawStream): Promise<Record<string, unknown>> => {
    await s.until(() => s.events().length > 0, 'a first event');
    return dataOf(s.events()[0]!);
  };

  it('names a component for the operator, integrator and dropped frames', () => {
    expect(frames).toEqual({
      operator: { $ref: '#/components/schemas/OperatorFrame' },
      integrator: { $ref: '#/components/schemas/IntegratorFrame' },
      dropped: { $ref: '#/components/schemas/DroppedFrame' },
    });
  });

  it("an operator's event and an integrator's validate against their frames, and not against each other's", async () => {
    const operator = await openStream(svc.url, svc.tokens.operator, '/v1/events');
    const integrator = await openStream(svc.url, svc.tokens.integrator, '/v1/events');
    try {
      const canonical = await firstEvent(operator);
      const pseudonymised = await firstEvent(integrator);
      expect(validate(frames['operator']!.$ref, canonical)).toEqual({ ok: true, errors: null });
      expect(validate(frames['integrator']!.$ref, pseudonymised)).toEqual({ ok: true, errors: null });
      expect(validate(frames['integrator']!.$ref, canonical).ok).toBe(false);
      expect(validate(frames['operator']!.$ref, pseudonymised).ok).toBe(false);
    } finally {
      operator.close();
      integrator.close();
    }
  });

  it('the dropped frame that ends a stream whose token is revoked validates against its frame', async () => {
    const issued = await svc.service.context.access.issue({ subject: 'frames-dropped', role: 'integrator', ttlSeconds: 3600, issuedBy: 'test' });
    const s = await openStream(svc.url, issued.token, '/v1/events?from=end');
    try {
      expect(s.status).toBe(200);
      svc.service.context.access.revoke(issued.tokenId, 'test');
      await s.until(() => s.events().some((e) => e.event === 'dropped'), 'the dropped frame');
      const dropped = dataOf(s.events().find((e) => e.event === 'dropped')!);
      expect(validate(frames['dropped']!.$ref, dropped)).toEqual({ ok: true, errors: null });
    } finally {
      s.close();
    }
  });
});
