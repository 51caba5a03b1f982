import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { signCommand, storedSignatureCheck, type RequestSigningPolicyInput } from '../domain/signing/index.ts';
import { body, registeredPseudonym } from './http-conformance.fixtures.ts';
import { runCli } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * `credence pseudonym rotate` took no signing option, and no operator could sign a rotation (the pseudonym and epoch
 * are the service's to derive), so under a request-signing policy with `require: 'all'` no node could be rotated on
 * demand. It takes the options lifecycle commands take (--sign-key, --audience, --actor, --sign-lifetime) and signs
 * what it asks for, the node, as the operator the server records.
 */
const AUDIENCE = 'credence:cli-rotation-signing-test';
const random = (n: number) => new Uint8Array(randomBytes(n));
const operatorKey = generateSigningKey('p256', random);
const policy: RequestSigningPolicyInput = {
  audience: AUDIENCE,
  require: 'all',
  keys: [{ actorId: 'test-operator', roles: ['operator'], algorithm: 'p256-ecdsa-sha256', publicKey: toBase64url(operatorKey.publicKey) }],
};

const NODE = 'meter-cli-rotated';
let root: string;
let keyFile: string;
let svc: TestService;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'credence-cli-rotation-signing-'));
  const policyFile = join(root, 'signing.json');
  writeFileSync(policyFile, JSON.stringify(policy));
  keyFile = join(root, 'operator.key.json');
  writeFileSync(keyFile, JSON.stringify({ algorithm: 'p256-ecdsa-sha256', secretKey: toBase64url(operatorKey.secretKey) }), { mode: 0o600 });
  svc = await startTestService({ dir: join(root, 'data'), config: { signing: policyFile } });
  const registration = body.registerNode(NODE);
  const signed = signCommand(
    command('registerNode', registration.data as never, { actor: { id: 'test-operator', role: 'operator' }, commandId: randomUUID() }),
    { algorithm: 'p256-ecdsa-sha256', secretKey: operatorKey.secretKey },
    { audience: AUDIENCE, issuedAt: new Date(), lifetimeSeconds: 120 },
  );
  await registeredPseudonym(svc, NODE, { commandId: signed.metadata.commandId, signature: signed.metadata.signature });
}, 60_000);

afterAll(async () => {
  await svc?.close();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

const rotate = (...extra: string[]) => runCli(['pseudonym', 'rotate', NODE, '--server', svc.url, '--token', svc.tokens.operator, ...extra]);
const rotations = async () => {
  const found = [];
  for await (const e of svc.service.context.credence.store.readAll()) if (e.type === 'PseudonymRotated' && e.data['nodeId'] === NODE) found.push(e);
  return found;
};

describe('credence pseudonym rotate under a signing policy that requires every command signed', () => {
  it("is recorded with --sign-key and --audience, its event carrying the operator's signature, which verifies", async () => {
    const result = await rotate('--sign-key', keyFile, '--audience', AUDIENCE, '--sign-lifetime', '60', '--json');
    expect(result.code, result.err).toBe(0);
    expect(JSON.parse(result.out)).toMatchObject({ nodeId: NODE, epoch: 1, deduplicated: false });
    const pseudonym = await svc.service.context.credence.pseudonyms!.deriver.node(NODE, 1);
    const [event] = (await svc.service.context.credence.engine.entity('pseudonym', pseudonym)).events;
    expect(event?.event).toMatchObject({ type: 'PseudonymRotated', data: { nodeId: NODE, epoch: 1, trigger: 'demand' } });
    expect(event?.metadata).toMatchObject({ actor: { id: 'test-operator', role: 'operator' }, signature: { audience: AUDIENCE, algorithm: 'p256-ecdsa-sha256' } });
    expect(storedSignatureCheck(policy)(event!)).toBe('verified');
  }, 30_000);

  it('without --sign-key is refused, the refusal saying how to sign it, and nothing is recorded', async () => {
    const before = (await rotations()).length;
    const result = await rotate();
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/rotatePseudonym must be signed by test-operator/);
    expect(result.err).toMatch(/--sign-key FILE --audience NAME/);
    expect(await rotations()).toHaveLength(before);
  }, 30_000);

  it('refuses before sending a signing option without --sign-key, or --sign-key without --audience (exit 2)', async () => {
    const before = (await rotations()).length;
    expect(await rotate('--audience', AUDIENCE)).toMatchObject({ code: 2, err: expect.stringContaining('--audience: only with --sign-key') });
    expect(await rotate('--sign-key', keyFile)).toMatchObject({ code: 2, err: expect.stringContaining('--audience: required with --sign-key') });
    expect(await rotations()).toHaveLength(before);
  }, 30_000);

  it("signs as --actor when given: another actor than the token's is refused by the server, and nothing is recorded", async () => {
    const before = (await rotations()).length;
    const result = await rotate('--sign-key', keyFile, '--audience', AUDIENCE, '--actor', 'someone-else');
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/does not verify/);
    expect(await rotations()).toHaveLength(before);
  }, 30_000);
});
