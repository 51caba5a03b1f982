/**
 * Review 342, finding 1: the OpenAPI document declared none of the command routes' own refusals. POST /v1/commands
 * answered 400 `validation` (each field with its rule, `idempotency` among them), 404 `not_found` (`streamId`), 409
 * `illegal_transition` (`state`, `attempted`, `allowed`) and 422 `bad_signature`, and the document put them all under
 * the 4XX catch-all, a bare Problem without the x-ratelimit-* headers each of them carries. Each is declared now on
 * the command routes, by a Problem subtype naming its members, with the headers of every answer; a real refusal of
 * each status matches its declared schema and carries the declared headers.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import type { RequestSigningPolicyInput } from '../domain/signing/index.ts';
import { body, openApi, type Api, type Reply } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

interface Response {
  headers?: Record<string, unknown>;
  content?: Record<string, { schema?: Record<string, unknown> }>;
}
type Doc = { paths: Record<string, Record<string, { responses: Record<string, Response> }>>; components: { schemas: Record<string, Record<string, unknown>> } };

const RATE_LIMIT = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];

/** The names a Problem subtype component lists, with the Problem's own: its `allOf` parts' properties, by reference too. */
const membersOf = (doc: Doc, ref: unknown): string[] => {
  const name = String(ref).replace('#/components/schemas/', '');
  const schema = doc.components.schemas[name];
  expect(schema, `component ${name}`).toBeDefined();
  const parts = (schema!['allOf'] as Record<string, unknown>[] | undefined) ?? [schema!];
  return parts.flatMap((part) => (part['$ref'] !== undefined ? membersOf(doc, part['$ref']) : Object.keys((part['properties'] as Record<string, unknown> | undefined) ?? {})));
};

/** The components a declared problem answer is: one `$ref`, or each of its `anyOf`. */
const refsOf = (response: Response | undefined): unknown[] => {
  const schema = response?.content?.['application/problem+json']?.schema ?? {};
  return Array.isArray(schema['anyOf']) ? (schema['anyOf'] as { $ref?: unknown }[]).map((s) => s.$ref) : [schema['$ref']];
};

const AUDIENCE = 'credence:command-refusals-test';
const operatorKey = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
/** Only revokeNode must be signed: every other command here runs unsigned. */
const policy: RequestSigningPolicyInput = {
  audience: AUDIENCE,
  require: ['revokeNode'],
  keys: [{ actorId: 'test-operator', roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(operatorKey.publicKey) }],
};

describe('the OpenAPI document declares the command routes’ own refusals, as the service answers them', () => {
  let folder: string;
  let svc: TestService;
  let api: Api;
  let doc: Doc;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'credence-command-refusals-'));
    const file = join(folder, 'signing.json');
    writeFileSync(file, JSON.stringify(policy));
    svc = await startTestService({ config: { signing: file } });
    api = await openApi(svc);
    doc = api.doc as unknown as Doc;
    expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.createSubscription() })).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  const command = (payload: unknown): Promise<Reply<Record<string, unknown>>> => api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload });

  it('declares 400, 404, 409 and 422 on POST /v1/commands, each a Problem subtype naming its members, with the rate limit’s headers', () => {
    const responses = doc.paths['/v1/commands']!['post']!.responses;
    const members: Record<string, string[]> = {
      '400': ['errors'],
      '404': ['streamId'],
      '409': ['streamId', 'state', 'attempted', 'allowed'],
      '422': ['reason'],
    };
    for (const [status, names] of Object.entries(members)) {
      const refs = refsOf(responses[status]);
      expect(refs, `POST /v1/commands ${status}`).not.toContain('#/components/schemas/Problem');
      expect(refs.flatMap((ref) => membersOf(doc, ref)), `POST /v1/commands ${status}`).toEqual(expect.arrayContaining(['type', 'title', 'status', ...names]));
      expect(Object.keys(responses[status]!.headers ?? {}), `POST /v1/commands ${status}`).toEqual(expect.arrayContaining(['x-request-id', ...RATE_LIMIT]));
    }
  });

  it('declares 400, 409, 422 and 501 on POST /v1/pseudonyms/rotations, and 400, 404, 409 and 422 on the resolutions, as their own', () => {
    for (const [path, statuses] of [['/v1/pseudonyms/rotations', ['400', '409', '422', '501']], ['/v1/pseudonyms/resolutions', ['400', '404', '409', '422']]] as const) {
      const responses = doc.paths[path]!['post']!.responses;
      for (const status of statuses) {
        expect(refsOf(responses[status]), `${path} ${status}`).not.toContain('#/components/schemas/Problem');
        expect(Object.keys(responses[status]!.headers ?? {}), `${path} ${status}`).toEqual(expect.arrayContaining(RATE_LIMIT));
      }
    }
  });

  /** `reply` is declared under its own status, not the catch-all, and carries the rate limit's headers declared there. */
  const declaredAsAnswered = (reply: Reply, status: number): void => {
    expect(reply.status).toBe(status);
    expect(doc.paths['/v1/commands']!['post']!.responses[String(status)], `${status} declared`).toBeDefined();
    for (const name of RATE_LIMIT) expect(reply.headers.get(name), `${status} carries ${name}`).not.toBeNull();
  };

  it('answers a bad body 400 validation, matching its declared schema', async () => {
    const reply = await command({ type: 'registerNode', data: {} });
    declaredAsAnswered(reply, 400);
    expect(reply.body).toMatchObject({ type: 'https://credence.dev/problems/validation', errors: expect.any(Array) });
  });

  it('answers a commandId used for another command 400 validation, rule idempotency, matching its declared schema', async () => {
    const commandId = randomUUID();
    expect((await command({ ...body.registerNode('meter-342-a'), commandId })).status).toBe(201);
    const reply = await command({ ...body.registerNode('meter-342-b'), commandId });
    declaredAsAnswered(reply, 400);
    expect(reply.body['errors']).toEqual([expect.objectContaining({ path: 'body.commandId', rule: 'idempotency' })]);
  });

  it('answers a command on an entity that does not exist 404 not_found with its streamId, matching its declared schema', async () => {
    const reply = await command(body.provisionCredential('cred-342-none'));
    declaredAsAnswered(reply, 404);
    expect(reply.body).toMatchObject({ type: 'https://credence.dev/problems/not_found', streamId: 'credential-cred-342-none' });
  });

  it('answers a transition its machine refuses 409 illegal_transition with state, attempted and allowed, matching its declared schema', async () => {
    expect((await command(body.registerNode('meter-342-twice'))).status).toBe(201);
    const reply = await command(body.registerNode('meter-342-twice'));
    declaredAsAnswered(reply, 409);
    expect(reply.body).toMatchObject({ type: 'https://credence.dev/problems/illegal_transition', streamId: 'node-meter-342-twice', state: expect.any(String), attempted: expect.any(String), allowed: expect.any(Array) });
  });

  it('answers a command the signing policy requires signed, sent unsigned, 422 bad_signature, matching its declared schema', async () => {
    const reply = await command(body.revokeNode('meter-342-a'));
    declaredAsAnswered(reply, 422);
    expect(reply.body).toMatchObject({ type: 'https://credence.dev/problems/bad_signature', reason: expect.any(String) });
  });
});
