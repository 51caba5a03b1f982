import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import type { Role } from '../domain/metadata.ts';
import { signCommand, storedSignatureCheck, type RequestSigningPolicyInput } from '../domain/signing/index.ts';
import { body, registeredPseudonym } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 158: under a request-signing policy with `require: 'all'` no auditor could resolve a pseudonym. The route
 * built the `resolvePseudonym` command with no signature, and a `signature` field in the body was refused as unknown.
 * It takes one as POST /v1/commands does, over the command the engine builds (the pseudonym and reason, the actor
 * { id: <token subject>, role: auditor }, the commandId sent); the PseudonymResolved records it, and the audit trail
 * verifies it as any other signed event. Unsigned, the refusal says how to sign it.
 */
const AUDIENCE = 'credence:resolution-signing-test';
const random = (n: number) => new Uint8Array(randomBytes(n));
const operatorKey = generateSigningKey('ed25519', random);
const auditorKey = generateSigningKey('ed25519', random);
/** Another auditor's registered key: valid for its own actor id, not for the token's. */
const otherAuditorKey = generateSigningKey('ed25519', random);
const policy: RequestSigningPolicyInput = {
  audience: AUDIENCE,
  require: 'all',
  keys: [
    { actorId: 'test-operator', roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(operatorKey.publicKey) },
    { actorId: 'test-auditor', roles: ['auditor'], algorithm: 'ed25519', publicKey: toBase64url(auditorKey.publicKey) },
    { actorId: 'other-auditor', roles: ['auditor'], algorithm: 'ed25519', publicKey: toBase64url(otherAuditorKey.publicKey) },
  ],
};

/** `type` with `data`, signed by `actorId` in `role` with `secretKey`: the commandId and signature a body carries. */
const signed = (type: 'registerNode' | 'resolvePseudonym', data: Record<string, unknown>, actor: { id: string; role: Role }, secretKey: Uint8Array) => {
  const made = signCommand(
    command(type, data as never, { actor, commandId: randomUUID() }),
    { algorithm: 'ed25519', secretKey },
    { audience: AUDIENCE, issuedAt: new Date(), lifetimeSeconds: 120 },
  );
  return { commandId: made.metadata.commandId, signature: made.metadata.signature };
};

let folder: string;
let svc: TestService;
let pseudonym = '';

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'credence-resolution-signing-'));
  const file = join(folder, 'signing.json');
  writeFileSync(file, JSON.stringify(policy));
  svc = await startTestService({ config: { signing: file } });
  const registration = body.registerNode('meter-signed');
  pseudonym = await registeredPseudonym(svc, 'meter-signed', signed('registerNode', registration.data, { id: 'test-operator', role: 'operator' }, operatorKey.secretKey));
}, 60_000);

afterAll(async () => {
  await svc?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

const REASON = 'case 2026-158';
const resolve = async (extra: Record<string, unknown> = {}) => {
  const reply = await fetch(new URL('/v1/pseudonyms/resolutions', svc.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${svc.tokens.auditor}`, 'content-type': 'application/json' },
    body: JSON.stringify({ pseudonym, reason: REASON, ...extra }),
  });
  return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
};
const store = () => svc.service.context.credence.store;
const resolutions = async () => (await store().readStream(`pseudonym-${pseudonym}`)).filter((e) => e.type === 'PseudonymResolved');

describe('a pseudonym resolution under a signing policy that requires every command signed', () => {
  it('is recorded when signed by the auditor, and its event carries the signature, which the audit trail verifies', async () => {
    const request = signed('resolvePseudonym', { pseudonym, reason: REASON }, { id: 'test-auditor', role: 'auditor' }, auditorKey.secretKey);
    const answer = await resolve(request);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ pseudonym, nodeId: 'meter-signed' });

    const [event] = (await svc.service.context.credence.engine.entity('pseudonym', pseudonym)).events.filter((e) => e.event.type === 'PseudonymResolved');
    expect(event?.metadata).toMatchObject({ commandId: request.commandId, actor: { id: 'test-auditor', role: 'auditor' }, signature: request.signature });
    expect(storedSignatureCheck(policy)(event!)).toBe('verified');

    const timeline = await fetch(new URL(`/v1/entities/pseudonym/${pseudonym}/timeline`, svc.url), { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    const entries = ((await timeline.json()) as { entries: { type: string; signature: { status: string } }[] }).entries;
    expect(entries.find((e) => e.type === 'PseudonymResolved')?.signature.status).toBe('verified');
  });

  it('is refused unsigned (422 bad_signature saying how to sign it), and nothing is written', async () => {
    const head = await store().headPosition();
    const before = (await resolutions()).length;
    const refused = await resolve({ commandId: randomUUID() });
    expect(refused.status).toBe(422);
    expect(refused.body['type']).toMatch(/bad_signature$/);
    expect(refused.body['detail']).toMatch(/resolvePseudonym must be signed by test-auditor/);
    expect(refused.body['detail']).toMatch(/`signature`/);
    expect(refused.body['detail']).toMatch(/--sign-key FILE --audience NAME/);
    expect(await store().headPosition()).toBe(head);
    expect(await resolutions()).toHaveLength(before);
  });

  it("is refused when signed with another actor's key, and nothing is written", async () => {
    const head = await store().headPosition();
    const before = (await resolutions()).length;
    for (const actor of ['other-auditor', 'test-auditor']) {
      const request = signed('resolvePseudonym', { pseudonym, reason: REASON }, { id: actor, role: 'auditor' }, otherAuditorKey.secretKey);
      const refused = await resolve(request);
      expect(refused.status).toBe(422);
      expect(refused.body['detail']).toMatch(/registered for other-auditor, not test-auditor/);
    }
    expect(await store().headPosition()).toBe(head);
    expect(await resolutions()).toHaveLength(before);
  });
});
