import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { signCommand, storedSignatureCheck, type RequestSigningPolicyInput } from '../domain/signing/index.ts';
import { body, registeredPseudonym } from './http-conformance.fixtures.ts';
import { settled as settledOf } from './http-sse.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Under a request-signing policy with `require: 'all'` no operator could rotate a pseudonym on demand: the route took
 * no `signature`, the unsigned command was refused, and POST /v1/commands refuses rotatePseudonym (own_route). The
 * client cannot sign the pseudonym and epoch the service derives, so the signed form of `rotatePseudonym` is what the
 * operator asks for, the node (with the commandId, actor and claims of any signed command); the engine's rule
 * `derived` checks the rest. The PseudonymRotated records the signature, and the audit trail verifies it.
 */
const AUDIENCE = 'credence:rotation-signing-test';
const random = (n: number) => new Uint8Array(randomBytes(n));
const operatorKey = generateSigningKey('ed25519', random);
/** Another operator's registered key: valid for its own actor id, not for the token's. */
const otherOperatorKey = generateSigningKey('ed25519', random);
/** An auditor's, to resolve the new pseudonym: its timeline is shown to an auditor who recorded a resolution. */
const auditorKey = generateSigningKey('ed25519', random);
const policy: RequestSigningPolicyInput = {
  audience: AUDIENCE,
  require: 'all',
  keys: [
    { actorId: 'test-operator', roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(operatorKey.publicKey) },
    { actorId: 'other-operator', roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(otherOperatorKey.publicKey) },
    { actorId: 'test-auditor', roles: ['auditor'], algorithm: 'ed25519', publicKey: toBase64url(auditorKey.publicKey) },
  ],
};

/** A rotation of `nodeId` as an operator signs it: the node asked for, nothing the service derives. */
const signedRotation = (nodeId: string, actorId: string, secretKey: Uint8Array) => {
  const made = signCommand(
    { type: 'rotatePseudonym', data: { nodeId }, metadata: { actor: { id: actorId, role: 'operator' }, commandId: randomUUID() } },
    { algorithm: 'ed25519', secretKey },
    { audience: AUDIENCE, issuedAt: new Date(), lifetimeSeconds: 120 },
  );
  return { commandId: made.metadata.commandId, signature: made.metadata.signature };
};

const NODE = 'meter-rotation-signed';
let folder: string;
let svc: TestService;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'credence-rotation-signing-'));
  const file = join(folder, 'signing.json');
  writeFileSync(file, JSON.stringify(policy));
  svc = await startTestService({ config: { signing: file } });
  const registration = body.registerNode(NODE);
  const signed = signCommand(
    command('registerNode', registration.data as never, { actor: { id: 'test-operator', role: 'operator' }, commandId: randomUUID() }),
    { algorithm: 'ed25519', secretKey: operatorKey.secretKey },
    { audience: AUDIENCE, issuedAt: new Date(), lifetimeSeconds: 120 },
  );
  await registeredPseudonym(svc, NODE, { commandId: signed.metadata.commandId, signature: signed.metadata.signature });
}, 60_000);

afterAll(async () => {
  await svc?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

const rotate = async (extra: Record<string, unknown> = {}) => {
  const reply = await fetch(new URL('/v1/pseudonyms/rotations', svc.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ nodeId: NODE, ...extra }),
  });
  return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
};
const store = () => svc.service.context.credence.store;
const rotations = async () => {
  let count = 0;
  for await (const e of store().readAll()) if (e.type === 'PseudonymRotated' && e.data['nodeId'] === NODE) count++;
  return count;
};

describe('an on-demand pseudonym rotation under a signing policy that requires every command signed', () => {
  it("is recorded when signed by the operator's key over the node, and its event carries the signature, which the audit trail verifies", async () => {
    const request = signedRotation(NODE, 'test-operator', operatorKey.secretKey);
    const answer = await rotate(request);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(answer.body).toMatchObject({ nodeId: NODE, epoch: 1, deduplicated: false });

    const pseudonym = await svc.service.context.credence.pseudonyms!.deriver.node(NODE, 1);
    const [event] = (await svc.service.context.credence.engine.entity('pseudonym', pseudonym)).events.filter((e) => e.event.type === 'PseudonymRotated');
    expect(event?.event.data).toMatchObject({ nodeId: NODE, epoch: 1, trigger: 'demand', pseudonym });
    expect(event?.metadata).toMatchObject({ commandId: request.commandId, actor: { id: 'test-operator', role: 'operator' }, signature: request.signature });
    expect(storedSignatureCheck(policy)(event!)).toBe('verified');

    const resolution = signCommand(
      { type: 'resolvePseudonym', data: { pseudonym, reason: 'case 2026-rotation' }, metadata: { actor: { id: 'test-auditor', role: 'auditor' }, commandId: randomUUID() } },
      { algorithm: 'ed25519', secretKey: auditorKey.secretKey },
      { audience: AUDIENCE, issuedAt: new Date(), lifetimeSeconds: 120 },
    );
    const resolved = await fetch(new URL('/v1/pseudonyms/resolutions', svc.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.auditor}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...resolution.data, commandId: resolution.metadata.commandId, signature: resolution.metadata.signature }),
    });
    expect(resolved.status, await resolved.clone().text()).toBe(200);
    await settledOf(svc);
    const timeline = await fetch(new URL(`/v1/entities/pseudonym/${pseudonym}/timeline`, svc.url), { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(timeline.status).toBe(200);
    const entries = ((await timeline.json()) as { entries: { type: string; signature: { status: string } }[] }).entries;
    expect(entries.find((e) => e.type === 'PseudonymRotated')?.signature.status).toBe('verified');

    // The same request again is the first rotation's answer, nothing more recorded.
    const again = await rotate(request);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body).toMatchObject({ epoch: 1, deduplicated: true });
  });

  it('is refused unsigned (422 bad_signature saying how to sign it), and nothing is written', async () => {
    const head = await store().headPosition();
    const before = await rotations();
    const refused = await rotate({ commandId: randomUUID() });
    expect(refused.status, JSON.stringify(refused.body)).toBe(422);
    expect(refused.body['type']).toMatch(/bad_signature$/);
    expect(refused.body['detail']).toMatch(/rotatePseudonym must be signed by test-operator/);
    expect(refused.body['detail']).toMatch(/data \{ nodeId \}/);
    expect(refused.body['detail']).toMatch(/`signature`/);
    expect(refused.body['detail']).toMatch(/credence pseudonym rotate <nodeId> --sign-key FILE --audience NAME/);
    expect(await store().headPosition()).toBe(head);
    expect(await rotations()).toBe(before);
  });

  it("is refused when signed with another actor's key, or for another node, and nothing is written", async () => {
    const head = await store().headPosition();
    const before = await rotations();
    for (const actor of ['other-operator', 'test-operator']) {
      const refused = await rotate(signedRotation(NODE, actor, otherOperatorKey.secretKey));
      expect(refused.status, JSON.stringify(refused.body)).toBe(422);
      expect(refused.body['detail']).toMatch(/registered for other-operator, not test-operator/);
    }
    // The operator's own key over another node: the signature attests the node asked for.
    const elsewhere = await rotate(signedRotation('meter-other', 'test-operator', operatorKey.secretKey));
    expect(elsewhere.status, JSON.stringify(elsewhere.body)).toBe(422);
    expect(elsewhere.body['detail']).toMatch(/does not verify over the canonical rotatePseudonym command/);
    expect(await store().headPosition()).toBe(head);
    expect(await rotations()).toBe(before);
  });
});
