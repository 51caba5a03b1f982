import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { COMMAND_TYPES, CommandSchema, parseCommand, type CommandType } from '../domain/commands/index.ts';
import { CredenceError } from '../domain/errors.ts';
import { storedDataSchema } from '../domain/stored.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { footprint, profile } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/**
 * Found in review: command data with a misspelt or unknown field was accepted and the field dropped. A registerNode
 * with `bootstrapCredentialID` recorded a node without its bootstrap link, an issueCredential with `predecesorId` an
 * independent credential instead of a successor, both 201. Commands now refuse a key their schema does not name, at
 * every depth; stored events are still read as written (strict on write, lenient on read).
 */

const UNKNOWN = 'zzNotAField';
const metadata = { commandId: '0190a5b4-7c3e-7def-8abc-0123456789ab', actor: { id: 'operator:alice', role: 'operator' } };

type JsonSchema = { type?: unknown; properties?: Record<string, JsonSchema>; items?: JsonSchema; anyOf?: JsonSchema[]; oneOf?: JsonSchema[]; const?: unknown; $ref?: string };

/**
 * Every object a command's data can hold, as the path to it and the least input that reaches it: the objects on the
 * way, each option of a union entered with its discriminating constants set (a Registree `{ kind: 'ae' }`), and the
 * unknown key in the object at the end. Read from the data schema's own JSON Schema, so a new command, or a new
 * nested object in one, is covered without a line here.
 */
function* objectsIn(schema: JsonSchema, path: readonly string[] = [], reach: (leaf: Record<string, unknown>) => unknown = (leaf) => leaf): Generator<{ path: readonly string[]; input: unknown }> {
  if (schema.$ref !== undefined) throw new Error(`a $ref in a command's data schema (${schema.$ref}): inline it or follow it here`);
  for (const option of [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) yield* objectsIn(option, path, reach);
  if (schema.items !== undefined) yield* objectsIn(schema.items, path.length === 0 ? ['0'] : [...path, '0'], (leaf) => reach([leaf] as never));
  if (schema.type !== 'object' || schema.properties === undefined) return;
  const constants = Object.fromEntries(Object.entries(schema.properties).flatMap(([k, p]) => (p.const !== undefined ? [[k, p.const]] : [])));
  yield { path, input: reach({ ...constants, [UNKNOWN]: 1 }) };
  for (const [key, property] of Object.entries(schema.properties)) {
    yield* objectsIn(property, [...path, key], (leaf) => reach({ ...constants, [key]: leaf }));
  }
}

const dataSchemaOf = (type: CommandType): z.ZodType => {
  const option = (CommandSchema.options as unknown as z.ZodObject<{ type: z.ZodLiteral<string>; data: z.ZodType }>[]).find((o) => o.shape.type.value === type);
  if (option === undefined) throw new Error(`no schema for ${type}`);
  return option.shape.data;
};

/** Whether zod's issues (those inside a union's options included) say that `key` is not allowed at `path`. */
const refusesKeyAt = (issues: readonly z.core.$ZodIssue[], path: readonly PropertyKey[], key: string, prefix: readonly PropertyKey[] = []): boolean =>
  issues.some((issue) => {
    const at = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys' && issue.keys.includes(key) && at.map(String).join('.') === path.map(String).join('.')) return true;
    return issue.code === 'invalid_union' && issue.errors.some((option) => refusesKeyAt(option, path, key, at));
  });

describe('command data refuses a key its schema does not name, at every depth', () => {
  it.each(COMMAND_TYPES)('%s: every object its data can hold refuses an unknown key', (type) => {
    const json = z.toJSONSchema(dataSchemaOf(type), { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    const objects = [...objectsIn(json)];
    expect(objects.length).toBeGreaterThan(0);
    for (const { path, input } of objects) {
      const parsed = CommandSchema.safeParse({ type, data: input, metadata });
      expect(parsed.success, `${type} data.${path.join('.')}`).toBe(false);
      expect(refusesKeyAt(parsed.error!.issues, ['data', ...path], UNKNOWN), `${type}: ${UNKNOWN} at data.${path.join('.')}`).toBe(true);
    }
  });

  it('reaches the nested objects of the richest commands: profile, owner, certificate, receipt and its parts, Registree', () => {
    const paths = (type: CommandType) => [...objectsIn(z.toJSONSchema(dataSchemaOf(type), { io: 'input', unrepresentable: 'any' }) as JsonSchema)].map((o) => o.path.join('.'));
    expect(paths('registerNode')).toContain('profile');
    expect(paths('issueCredential')).toEqual(expect.arrayContaining(['owner', 'certificate']));
    expect(paths('provisionCredential')).toEqual(
      expect.arrayContaining(['receipt', 'receipt.credential', 'receipt.credential.owner', 'receipt.manufacturerCertificate', 'receipt.serviceParameters', 'receipt.enrolmentFunctionSignature']),
    );
    expect(paths('configureAssociation').filter((p) => p === 'registree')).toHaveLength(2);
  });

  it('the engine refuses a misspelt field as a validation error naming where and the rule', () => {
    const input = { type: 'registerNode', data: { nodeId: 'n', profile: { ...profile, colour: 'red' } }, metadata };
    let refusal: unknown;
    try {
      parseCommand(input);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(CredenceError);
    expect((refusal as CredenceError).problem).toMatchObject({ code: 'validation', issues: [{ path: 'data.profile', rule: 'unrecognized_keys', message: expect.stringContaining('colour') }] });
  });

  it('stored events with a key their schema does not name are still read as written', () => {
    const stored = { nodeId: 'n', profile: { ...profile, colour: 'red' }, bootstrapCredentialID: 'boot-1' };
    expect(storedDataSchema('NodeRegistered').safeParse(stored).success).toBe(true);
  });
});

describe('POST /v1/commands refuses misspelt data fields with 400 naming the field, writing nothing', () => {
  let svc: TestService;
  let api: Api;
  const post = (payload: unknown) => api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload });
  const quiet = async () => {
    await settled(svc);
    return footprint(svc.service.context.credence.store);
  };

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    expect((await post(body.registerNode('meter-1'))).status).toBe(201);
    expect((await post(body.issueCredential('meter-1-old', 'meter-1'))).status).toBe(201);
  });
  afterAll(async () => {
    await svc?.close();
  });

  const cases: readonly (readonly [string, () => unknown, string])[] = [
    ['registerNode with bootstrapCredentialID', () => ({ type: 'registerNode', data: { ...body.registerNode('meter-2').data, bootstrapCredentialID: 'boot-1' } }), 'body.data.bootstrapCredentialID'],
    ['issueCredential with predecesorId', () => ({ type: 'issueCredential', data: { ...body.issueCredential('meter-1-new', 'meter-1').data, predecesorId: 'meter-1-old' } }), 'body.data.predecesorId'],
    ['registerNode with an unknown profile field', () => ({ type: 'registerNode', data: { nodeId: 'meter-3', profile: { ...profile, colour: 'red' } } }), 'body.data.profile.colour'],
    ['issueCredential with an unknown owner field', () => {
      const data = body.issueCredential('meter-1-other', 'meter-1').data;
      return { type: 'issueCredential', data: { ...data, owner: { ...data.owner, name: 'meter one' } } };
    }, 'body.data.owner.name'],
  ];

  it.each(cases.map(([name, payload, path]) => ({ name, payload, path })))('$name: 400 naming $path, nothing appended', async ({ payload, path }) => {
    const before = await quiet();
    const reply = await post(payload());
    expect(reply.status).toBe(400);
    expect((reply.body as { errors: unknown[] }).errors).toContainEqual({ path, rule: 'unrecognized_key', message: expect.any(String) });
    expect(await quiet()).toEqual(before);
  });
});
