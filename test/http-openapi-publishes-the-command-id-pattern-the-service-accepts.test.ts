/**
 * Review 219: the OpenAPI document published zod's `z.uuid` pattern for `commandId` (any RFC 9562 version 1 to 8,
 * either case, nil and max), while the service refuses a new command's id in upper case (`lower_case`, review 186) or
 * of version 8 (`reserved_command_id`, the engine's derived ids). A client generated from the document sent ids it had
 * validated and was refused. Now the document's pattern says what the service takes, on each route that takes one.
 */
import { randomUUID } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

type Schema = Record<string, unknown>;
type Doc = { paths: Record<string, { post?: { requestBody?: { content: Record<string, { schema: Schema }> } } }> };

/** A random RFC 9562 UUID with version digit `version` and variant digit `variant`. */
const uuidOf = (version: string, variant = 'a'): string => {
  const id = randomUUID();
  return `${id.slice(0, 14)}${version}${id.slice(15, 19)}${variant}${id.slice(20)}`;
};

/** Ids each at one edge of what the service takes for a new command (its parse, then its admission). */
const IDS = [
  { what: 'a version 4 id', id: uuidOf('4') },
  { what: 'a version 7 id', id: uuidOf('7', '9') },
  ...['1', '2', '3', '5', '6'].map((v) => ({ what: `a version ${v} id`, id: uuidOf(v, '8') })),
  { what: 'a version 8 id (the engine derives these)', id: uuidOf('8', 'b') },
  { what: 'an upper-case version 4 id', id: uuidOf('4').toUpperCase() },
  { what: 'a version 4 id with one upper-case digit', id: `${uuidOf('4').slice(0, 35)}A` },
  { what: 'the nil UUID', id: '00000000-0000-0000-0000-000000000000' },
  { what: 'the max UUID', id: 'ffffffff-ffff-ffff-ffff-ffffffffffff' },
  { what: 'a version 0 id', id: uuidOf('0') },
  { what: 'a version 9 id', id: uuidOf('9') },
  { what: 'a variant c id', id: uuidOf('4', 'c') },
  { what: 'a version 4 id in braces', id: `{${uuidOf('4')}}` },
];

/** Every `commandId` schema of a route's request body (each command variant of POST /v1/commands has its own). */
const commandIdSchemas = (doc: Doc, path: string): Schema[] => {
  const found: Schema[] = [];
  const walk = (value: unknown, key?: string): void => {
    if (Array.isArray(value)) value.forEach((item) => walk(item));
    else if (typeof value === 'object' && value !== null) {
      if (key === 'commandId') found.push(value as Schema);
      else for (const [name, child] of Object.entries(value)) walk(child, name);
    }
  };
  walk(doc.paths[path]!.post!.requestBody!.content['application/json']!.schema);
  return found;
};

describe('the OpenAPI document publishes the command id pattern the service accepts', () => {
  let svc: TestService;
  let doc: Doc;
  // As a generated client checks a body: the schema's pattern, formats not checked.
  const ajv = new Ajv2020({ strict: false, validateFormats: false });

  beforeAll(async () => {
    svc = await startTestService();
    doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as Doc;
    const created = await fetch(new URL('/v1/commands', svc.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify(body.createSubscription()),
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('publishes one pattern on every route that takes a commandId', () => {
    const schemas = ['/v1/commands', '/v1/pseudonyms/rotations', '/v1/pseudonyms/resolutions'].flatMap((path) => commandIdSchemas(doc, path));
    expect(schemas.length).toBeGreaterThan(3);
    expect(new Set(schemas.map((s) => s['pattern']))).toEqual(new Set([commandIdSchemas(doc, '/v1/commands')[0]!['pattern']]));
  });

  it.each(IDS.map((c, i) => ({ ...c, i })))('$what: the document and the service agree', async ({ id, i }) => {
    const documentAllows = ajv.validate(commandIdSchemas(doc, '/v1/commands')[0]!, id);
    const answer = await fetch(new URL('/v1/commands', svc.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...body.registerNode(`zz-cid-${i}`), commandId: id }),
    });
    const answered = (await answer.json()) as { errors?: { path: string }[] };
    if (answer.status !== 201) {
      expect(answer.status).toBe(400);
      expect(answered.errors?.map((e) => e.path)).toEqual(['body.commandId']);
    }
    expect(documentAllows).toBe(answer.status === 201);
  });
});
