/**
 * Issue 12 with SER-016: `credence serve --signing FILE` verifies the request signature attached to POST
 * /v1/commands against the deployment's policy. The actor is the token's subject with role operator, so a client
 * signs exactly the command the server builds from its body: type, data, that actor, and the commandId it sends.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadServiceConfig, serviceConfig } from '../adapters/http/config.ts';
import { PROBLEM_TYPE_BASE } from '../adapters/http/problems.ts';
import { startService } from '../adapters/http/start.ts';
import { command } from '../domain/commands/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { signCommand, type RequestSigningPolicyInput } from '../domain/signing/index.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

const AUDIENCE = 'credence:http-signing-test';
const random = (n: number) => new Uint8Array(randomBytes(n));
/** The key of the operator the test service's operator token names (`test-operator`). */
const operatorKey = generateSigningKey('ed25519', random);
/** Another actor's registered key: valid for its own actor id, not for the token's. */
const aliceKey = generateSigningKey('ed25519', random);
const policy: RequestSigningPolicyInput = {
  audience: AUDIENCE,
  require: ['revokeNode'],
  keys: [
    { actorId: 'test-operator', roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(operatorKey.publicKey) },
    { actorId: 'alice', roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(aliceKey.publicKey) },
  ],
};

/** The body of POST /v1/commands for a revokeNode signed by `actorId` with `secretKey`: with its commandId and signature. */
const signedRevoke = (actorId: string, secretKey: Uint8Array) => {
  const unsigned = body.revokeNode('meter-1');
  const signed = signCommand(
    command('revokeNode', unsigned.data, { actor: { id: actorId, role: 'operator' }, commandId: randomUUID() }),
    { algorithm: 'ed25519', secretKey },
    { audience: AUDIENCE, issuedAt: new Date(), lifetimeSeconds: 120 },
  );
  return { ...unsigned, commandId: signed.metadata.commandId, signature: signed.metadata.signature };
};

let folder: string;
let svc: TestService;
let api: Api;
let otherOperator: string;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'credence-http-signing-'));
  const file = join(folder, 'signing.json');
  writeFileSync(file, JSON.stringify(policy));
  svc = await startTestService({ config: { signing: file } });
  api = await openApi(svc);
  const issued = await svc.service.context.access.issue({ subject: 'test-operator-2', role: 'operator', ttlSeconds: 3600, issuedBy: 'test' });
  otherOperator = issued.token;
  const registered = await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.registerNode('meter-1') });
  expect(registered.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await svc?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

const head = () => svc.service.context.credence.store.headPosition();

describe('POST /v1/commands with a request-signing policy (SER-016)', () => {
  it.each([
    { case: 'unsigned', request: () => body.revokeNode('meter-1'), token: () => svc.tokens.operator, reason: /must be signed by test-operator/ },
    {
      case: "signed by another actor's registered key",
      request: () => signedRevoke('alice', aliceKey.secretKey),
      token: () => svc.tokens.operator,
      reason: /registered for alice, not test-operator/,
    },
    {
      case: "signed by the operator's key, sent with another operator's token",
      request: () => signedRevoke('test-operator', operatorKey.secretKey),
      token: () => otherOperator,
      reason: /registered for test-operator, not test-operator-2/,
    },
    {
      case: 'signed, then its data changed',
      request: () => ({ ...signedRevoke('test-operator', operatorKey.secretKey), data: { nodeId: 'meter-1', reason: 'superseded' } }),
      token: () => svc.tokens.operator,
      reason: /does not verify/,
    },
  ])('refuses a revokeNode $case: 422 bad_signature, and writes nothing', async ({ request, token, reason }) => {
    // The live components append on their own (cascades, pseudonyms): let them finish so the head is ours to watch.
    await settled(svc);
    const before = await head();
    const reply = await api.call('POST', '/v1/commands', {}, { token: token(), body: request() });
    expect(reply.status).toBe(422);
    expect(reply.body).toMatchObject({ type: `${PROBLEM_TYPE_BASE}bad_signature`, status: 422 });
    expect(String(reply.body.reason)).toMatch(reason);
    expect(await head()).toBe(before);
  });

  it("accepts a revokeNode signed by the token subject's key, and the audit trail records it verified", async () => {
    const signed = signedRevoke('test-operator', operatorKey.secretKey);
    const reply = await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: signed });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ commandId: signed.commandId, state: 'revoked' });
    expect(reply.body.events[0]).toMatchObject({
      type: 'NodeRevoked',
      metadata: { actor: { id: 'test-operator', role: 'operator' }, signature: signed.signature },
    });

    const node = { kind: 'node', id: 'meter-1' };
    const timeline = await api.call('GET', '/v1/entities/{kind}/{id}/timeline', node, { token: svc.tokens.auditor });
    expect(timeline.status).toBe(200);
    const entries = timeline.body.entries as { type: string; signature: { status: string } }[];
    expect(entries.map((e) => [e.type, e.signature.status])).toEqual([
      ['NodeRegistered', 'unsigned'],
      ['NodeRevoked', 'verified'],
    ]);
  });

  it('still takes commands the policy does not require signed, unsigned', async () => {
    const reply = await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.registerNode('meter-2') });
    expect(reply.status).toBe(201);
  });
});

describe('the signing setting', () => {
  /** The issues of a `validation` refusal, as `path: message`. */
  const issuesOf = (error: unknown): string[] => {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') {
      return error.problem.issues.map((i) => `${i.path}: ${i.message}`);
    }
    throw new Error(`not a validation refusal: ${String(error)}`);
  };
  const refusal = (run: () => unknown): string[] => {
    try {
      run();
    } catch (error) {
      return issuesOf(error);
    }
    throw new Error('not refused');
  };

  it('is read from --signing or CREDENCE_SIGNING; an unusable file is refused naming the source and the problem', () => {
    const good = join(folder, 'signing.json');
    const bad = join(folder, 'bad-signing.json');
    writeFileSync(bad, JSON.stringify({ audience: AUDIENCE, require: ['noSuchCommand'] }));
    expect(loadServiceConfig({ flags: { signing: good } }).signing).toBe(good);
    expect(loadServiceConfig({ env: { CREDENCE_SIGNING: good } }).signing).toBe(good);
    expect(refusal(() => loadServiceConfig({ flags: { signing: join(folder, 'missing.json') } }))).toEqual([
      `flag --signing: cannot read ${join(folder, 'missing.json')}: ENOENT`,
    ]);
    expect(refusal(() => loadServiceConfig({ env: { CREDENCE_SIGNING: bad } }))[0]).toMatch(/^env CREDENCE_SIGNING: require/);
  });

  it('refuses to start on an unusable policy file, before opening the data folder', async () => {
    const data = join(folder, 'never-opened');
    const config = serviceConfig({ port: 0, data, signing: join(folder, 'missing.json') });
    const error = await startService(config).catch((e: unknown) => e);
    expect(issuesOf(error)).toEqual([`signing: cannot read ${join(folder, 'missing.json')}: ENOENT`]);
    expect(existsSync(data)).toBe(false);
  });
});
