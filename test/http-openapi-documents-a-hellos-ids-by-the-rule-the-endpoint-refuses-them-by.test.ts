/**
 * Found in review: the provisioning hello's `credentialId` and `predecessorId` were documented as the message's loose
 * identifier (any printable ASCII up to 256 characters), while the endpoint refuses, 422 `malformed`, any id but a
 * domain `CredentialId` (letters, digits and . _ : ~ -, 1 to 128, starting with a letter or digit). A client generated
 * from the document sent hellos it had validated and was refused. Now the document states the endpoint's rule, in the
 * body and for the query's `predecessorId`, and what is refused, and how, is unchanged.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { fromBase64url } from '../domain/crypto/index.ts';
import { CredentialId } from '../domain/ids.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

type Schema = Record<string, unknown>;
type HelloOperation = {
  requestBody: { content: { 'application/json': { schema: Schema } } };
  parameters: { name: string; in: string; schema: Schema }[];
};

/** Ids the endpoint refuses (the message's identifier takes each) and ids it takes, each one edge of the rule. */
const IDS = [
  { what: 'a character outside the id rule', id: 'bad#id', allowed: false },
  { what: 'a leading dash', id: '-lead', allowed: false },
  { what: 'a leading dot', id: '.lead', allowed: false },
  { what: '129 characters', id: `a${'x'.repeat(128)}`, allowed: false },
  { what: '128 characters', id: `a${'x'.repeat(127)}`, allowed: true },
  { what: 'every character the rule has', id: 'Az09._:~-', allowed: true },
  { what: 'one character', id: 'c', allowed: true },
] as const;

describe('the OpenAPI document of POST /v1/enrolment/hello names its ids by the rule the endpoint refuses them by', () => {
  let world: DeviceServiceWorld;
  let sim: SimulatedDevice;
  let hello: HelloOperation;
  // A document validator as a generated client runs one: the JSON Schema of the body, formats not checked.
  const ajv = new Ajv2020({ strict: false, validateFormats: false, coerceTypes: true });

  beforeAll(async () => {
    world = await deviceServiceWorld();
    sim = await world.enrolledDevice('zz-docid', 'ed25519');
    const doc = (await (await fetch(`${world.service.url}/openapi.json`)).json()) as { paths: Record<string, { post: HelloOperation }> };
    hello = doc.paths['/v1/enrolment/hello']!.post;
  }, 60_000);
  afterAll(async () => {
    await world?.close();
  });

  /** A real hello of the device's naming `ids`, the document's verdict on it, and the endpoint's answer. */
  const send = async (ids: { credentialId: string; predecessorId?: string }) => {
    const { id, publicKey } = sim.state.pinned.enrolmentFunction;
    const session = await sim.device
      .provisioningClient({ id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } })
      .start({ credentialKind: 'psk256', ...ids });
    try {
      const documentAllows = ajv.validate(hello.requestBody.content['application/json'].schema, session.hello);
      const answer = await world.post('/v1/enrolment/hello', session.hello);
      return { documentAllows, answer };
    } finally {
      await session.abort();
    }
  };

  it.each(IDS)('credentialId with $what: the document and the endpoint agree (allowed: $allowed)', async ({ id, allowed }) => {
    const { documentAllows, answer } = await send({ credentialId: id });
    expect(documentAllows).toBe(allowed);
    if (allowed) expect(answer.status).toBe(200);
    else expect(answer).toMatchObject({ status: 422, body: { step: 'provisioning.hello', reason: 'malformed' } });
  });

  it.each(IDS)('predecessorId with $what: the document and the endpoint agree (allowed: $allowed)', async ({ id, allowed }) => {
    // Whether the predecessor qualifies is asked at the auth, once the node has authenticated: the hello is answered.
    const { documentAllows, answer } = await send({ credentialId: 'zz-docid-next', predecessorId: id });
    expect(documentAllows).toBe(allowed);
    if (allowed) expect(answer.status).toBe(200);
    else expect(answer).toMatchObject({ status: 422, body: { step: 'provisioning.hello', reason: 'malformed' } });
  });

  it.each(IDS)("the query's predecessorId with $what: documented as the hello's (allowed: $allowed)", ({ id, allowed }) => {
    // The query's, when sent, must be the hello's own predecessorId, so no other id is answered either.
    const parameter = hello.parameters.find((p) => p.in === 'query' && p.name === 'predecessorId');
    expect(ajv.validate(parameter!.schema, id)).toBe(allowed);
    expect(CredentialId.safeParse(id).success).toBe(allowed);
  });
});
