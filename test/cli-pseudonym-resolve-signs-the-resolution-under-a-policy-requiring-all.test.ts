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
 * Review 158: `credence pseudonym resolve` took no signing option, so under a request-signing policy with
 * `require: 'all'` an auditor had no way to resolve a pseudonym from the CLI. It takes the options lifecycle commands
 * take (--sign-key, --audience, --actor, --sign-lifetime) and signs the resolution as the auditor the server records.
 */
const AUDIENCE = 'credence:cli-resolution-signing-test';
const random = (n: number) => new Uint8Array(randomBytes(n));
const operatorKey = generateSigningKey('ed25519', random);
const auditorKey = generateSigningKey('p256', random);
const policy: RequestSigningPolicyInput = {
  audience: AUDIENCE,
  require: 'all',
  keys: [
    { actorId: 'test-operator', roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(operatorKey.publicKey) },
    { actorId: 'test-auditor', roles: ['auditor'], algorithm: 'p256-ecdsa-sha256', publicKey: toBase64url(auditorKey.publicKey) },
  ],
};

let root: string;
let keyFile: string;
let svc: TestService;
let pseudonym = '';

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'credence-cli-resolution-signing-'));
  const policyFile = join(root, 'signing.json');
  writeFileSync(policyFile, JSON.stringify(policy));
  keyFile = join(root, 'auditor.key.json');
  writeFileSync(keyFile, JSON.stringify({ algorithm: 'p256-ecdsa-sha256', secretKey: toBase64url(auditorKey.secretKey) }), { mode: 0o600 });
  svc = await startTestService({ dir: join(root, 'data'), config: { signing: policyFile } });
  const registration = body.registerNode('meter-cli-signed');
  const signed = signCommand(
    command('registerNode', registration.data as never, { actor: { id: 'test-operator', role: 'operator' }, commandId: randomUUID() }),
    { algorithm: 'ed25519', secretKey: operatorKey.secretKey },
    { audience: AUDIENCE, issuedAt: new Date(), lifetimeSeconds: 120 },
  );
  pseudonym = await registeredPseudonym(svc, 'meter-cli-signed', { commandId: signed.metadata.commandId, signature: signed.metadata.signature });
}, 60_000);

afterAll(async () => {
  await svc?.close();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

const resolve = (...extra: string[]) =>
  runCli(['pseudonym', 'resolve', pseudonym, '--reason', 'case 2026-158', '--server', svc.url, '--token', svc.tokens.auditor, ...extra]);
const resolutions = async () =>
  (await svc.service.context.credence.engine.entity('pseudonym', pseudonym)).events.filter((e) => e.event.type === 'PseudonymResolved');

describe('credence pseudonym resolve under a signing policy that requires every command signed', () => {
  it('is recorded with --sign-key and --audience, its event carrying the auditor\'s signature', async () => {
    const result = await resolve('--sign-key', keyFile, '--audience', AUDIENCE, '--sign-lifetime', '60', '--json');
    expect(result.code, result.err).toBe(0);
    expect(JSON.parse(result.out)).toMatchObject({ pseudonym, nodeId: 'meter-cli-signed' });
    const [event] = await resolutions();
    expect(event?.metadata).toMatchObject({ actor: { id: 'test-auditor', role: 'auditor' }, signature: { audience: AUDIENCE, algorithm: 'p256-ecdsa-sha256' } });
    expect(storedSignatureCheck(policy)(event!)).toBe('verified');
  }, 30_000);

  it('without --sign-key is refused, the refusal saying how to sign it, and nothing is recorded', async () => {
    const before = (await resolutions()).length;
    const result = await resolve();
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/resolvePseudonym must be signed by test-auditor/);
    expect(result.err).toMatch(/--sign-key FILE --audience NAME/);
    expect(await resolutions()).toHaveLength(before);
  }, 30_000);

  it('refuses before sending a signing option without --sign-key, or --sign-key without --audience (exit 2)', async () => {
    const before = (await resolutions()).length;
    expect(await resolve('--audience', AUDIENCE)).toMatchObject({ code: 2, err: expect.stringContaining('--audience: only with --sign-key') });
    expect(await resolve('--sign-key', keyFile)).toMatchObject({ code: 2, err: expect.stringContaining('--audience: required with --sign-key') });
    expect(await resolutions()).toHaveLength(before);
  }, 30_000);

  it('signs as --actor when given: another actor than the token\'s is refused by the server, and nothing is recorded', async () => {
    const before = (await resolutions()).length;
    const result = await resolve('--sign-key', keyFile, '--audience', AUDIENCE, '--actor', 'someone-else');
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/does not verify/);
    expect(await resolutions()).toHaveLength(before);
  }, 30_000);
});
