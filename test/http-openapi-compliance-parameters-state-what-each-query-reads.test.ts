import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RevocationReason } from '../domain/events/index.ts';
import { complianceParametersOf, type Parameter } from './support/compliance-openapi-parameters.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Found in review: of GET /v1/compliance/{query}'s parameters, `reason`, `order`, `after`, `days`, `actor` and
 * `subscription` were documented as any string of up to 200 characters, while each query reads them with its own
 * schema (projections/compliance/catalog.ts): an RFC 5280 reason, `log` or `newest`, a global position, a number of
 * days from 0 to 36500, an id of 1 to 200 (an actor) or 1 to 128 (a subscription) characters. A client or validating
 * proxy built from the document sent values the service refuses with a 400.
 */
describe('the OpenAPI document states each compliance parameter as its query reads it', () => {
  let svc: TestService;
  let parameterOf: (name: string) => Parameter;
  // Query values are text: an OpenAPI validator coerces them to the documented type before checking, as here.
  const ajv = new Ajv2020({ strict: false, coerceTypes: true });

  beforeAll(async () => {
    svc = await startTestService();
    parameterOf = await complianceParametersOf(svc);
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('documents reason as the enum of RFC 5280 reasons', () => {
    expect(parameterOf('reason').schema).toEqual({ type: 'string', enum: RevocationReason.options });
  });

  it('documents order as log or newest, default log', () => {
    expect(parameterOf('order').schema).toEqual({ type: 'string', enum: ['log', 'newest'], default: 'log' });
  });

  it('documents after as a global position in decimal digits, its bound said, or the cursor of expiring (review 142) or dangling-associations', () => {
    const after = parameterOf('after') as Parameter & { description?: string };
    expect(after.schema).toEqual({
      anyOf: [
        { type: 'string', pattern: '^\\d{1,19}$' },
        // provisioned (review 394): `<listedPosition>:<credentialId>`, or a listed position alone as before.
        { type: 'string', maxLength: 148, pattern: '^\\d{1,19}(?::|$)' },
        { type: 'string', maxLength: 145, pattern: '^\\d{1,16}:' },
        { type: 'string', maxLength: 148, pattern: '^\\d{1,19}:' },
        // Tagged with an event of the log they came from (review 199).
        { type: 'string', pattern: '^(0|[1-9][0-9]{0,18})~([0-9a-f]{8})(?:\\.([0-9a-f]{8}))?$' },
        // Review 272: then the digest of the query and parameters it was given for (a position untagged too).
        { type: 'string', pattern: '^(0|[1-9][0-9]{0,18})(?:\\.([0-9a-f]{8}))$' },
        { type: 'string', pattern: '^(\\d{1,19}:[A-Za-z0-9][A-Za-z0-9._:~-]{0,127})@(0|[1-9][0-9]{0,18})~([0-9a-f]{8})(?:\\.([0-9a-f]{8}))?$' },
      ],
    });
    expect(after.description).toContain('9223372036854775807');
    expect(after.description).toContain('<notAfterMs>:<credentialId>');
    expect(after.description).toContain('<position>:<associationId>');
  });

  it('documents days as a number above 0 (review 232: 0 days are refused), up to 36500', () => {
    expect(parameterOf('days').schema).toEqual({ type: 'number', exclusiveMinimum: 0, maximum: 36_500 });
  });

  it('documents actor and subscription as ids of their lengths', () => {
    expect(parameterOf('actor').schema).toEqual({ type: 'string', minLength: 1, maxLength: 200 });
    expect(parameterOf('subscription').schema).toEqual({ type: 'string', minLength: 1, maxLength: 128 });
  });

  /** The query that reads each parameter (`days` is required by `expiring`, `actor` by `actions`, ...). */
  const QUERY_OF: Readonly<Record<string, string>> = { reason: 'revocations', order: 'revocations', after: 'revocations', days: 'expiring', actor: 'actions', subscription: 'provisioned' };

  /** A value and whether the query takes it; `shown` names a long one in the test's title. */
  const row = (name: string, value: string, allowed: boolean, shown = value) => [name, shown, allowed, value] as const;

  it.each([
    row('reason', 'keyCompromise', true),
    row('reason', 'cessationOfOperation', true),
    row('reason', 'compromised', false),
    row('reason', '', false),
    row('order', 'newest', true),
    row('order', 'log', true),
    row('order', 'oldest', false),
    row('after', '0', true),
    row('after', '00', true),
    row('after', '-1', false),
    row('after', '12a', false),
    row('after', '1'.repeat(20), false, '20 digits'),
    row('days', '30', true),
    row('days', '0', false),
    row('days', '1.5', true),
    row('days', '36500', true),
    row('days', '36501', false),
    row('days', '-1', false),
    row('days', 'soon', false),
    row('actor', 'operator:alice', true),
    row('actor', 'a'.repeat(200), true, '200 characters'),
    row('actor', '', false),
    row('actor', 'a'.repeat(201), false, '201 characters'),
    row('subscription', 'sub-1', true),
    row('subscription', 's'.repeat(128), true, '128 characters'),
    row('subscription', '', false),
    row('subscription', 's'.repeat(129), false, '129 characters'),
  ])('?%s=%s: the document and the service agree (allowed: %s)', async (name, _shown, allowed, value) => {
    expect(ajv.validate(parameterOf(name).schema, value)).toBe(allowed);
    const answer = await fetch(`${svc.url}/v1/compliance/${QUERY_OF[name]}?${name}=${encodeURIComponent(value)}`, {
      headers: { authorization: `Bearer ${svc.tokens.admin}` },
    });
    // Allowed: answered (no rows in a new store), or for a subscription a new store never created 404 (review 155), not
    // a 400; refused: the query's 400, naming the parameter.
    if (allowed) expect(answer.status).toBe(name === 'subscription' ? 404 : 200);
    else expect(((await answer.json()) as { errors?: { path: string }[] }).errors?.[0]?.path).toBe(`query.${name}`);
  });
});
