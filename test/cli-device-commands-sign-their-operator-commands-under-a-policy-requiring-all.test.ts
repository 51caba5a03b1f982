import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register } from '../bin/commands/device.ts';
import { factory } from '../bin/commands/device/factory.ts';
import { readPendingInit } from '../bin/commands/device/pending-init.ts';
import { operatorCommand, type OperatorTarget } from '../bin/commands/device/steps.ts';
import { requestSigner, type RequestSigner } from '../bin/commands/submit.ts';
import type { Io } from '../bin/io.ts';
import { runCommands } from '../bin/program.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Found in review 154: `credence device init`, `associate` (with a token) and `fleet` sent their operator commands
 * unsigned and took no signing option, so under a request-signing policy with `require: 'all'` every device began
 * with a refused init. They take the signing options lifecycle commands take; a refusal for want of a signature names
 * them, and a rerun of an unfinished init re-signs its commands and is answered as the same ones.
 */
const AUDIENCE = 'credence:device-signing-test';
const operatorKey = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));

let service: TestService;
let root: string;
let keyFile: string;
let operator: OperatorTarget;
let signer: RequestSigner;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'credence-device-signing-'));
  const policyFile = join(root, 'signing.json');
  writeFileSync(policyFile, JSON.stringify({
    audience: AUDIENCE, require: 'all',
    keys: [{ actorId: 'test-operator', roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(operatorKey.publicKey) }],
  }));
  keyFile = join(root, 'operator.key.json');
  writeFileSync(keyFile, JSON.stringify({ algorithm: 'ed25519', secretKey: toBase64url(operatorKey.secretKey) }), { mode: 0o600 });
  service = await startTestService({ config: { signing: policyFile } });
  signer = requestSigner({ signKey: keyFile, audience: AUDIENCE, signLifetime: 300 }, service.tokens.operator)!;
  operator = { url: service.url, token: service.tokens.operator, signer };
  const now = new Date();
  await operatorCommand(operator, 'createSubscription', {
    subscriptionId: 'sub-signed', subscriber: 'City Utilities', notBefore: now.toISOString(), notAfter: new Date(now.getTime() + 365 * 86_400_000).toISOString(),
  });
}, 60_000);
afterAll(async () => {
  signer?.forget();
  await service?.close();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

const device = async (argv: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), env: {} };
  const code = await runCommands([register], ['device', ...argv], io);
  return { code, out: out.join('\n'), err: err.join('\n') };
};
const events = async (kind: 'node' | 'credential' | 'association', id: string) => (await service.service.context.credence.engine.entity(kind, id)).events;

describe('credence device under a signing policy that requires every command signed', () => {
  it('init, provision and associate complete with --sign-key; without it the refusal names the option', async () => {
    const server = ['--server', service.url, '--token', service.tokens.operator];
    const signing = ['--sign-key', keyFile, '--audience', AUDIENCE];

    const unsignedDir = join(root, 'meter-unsigned');
    const unsigned = await device(['init', '--node-id', 'meter-unsigned', '--kind', 'ed25519', '--dir', unsignedDir, ...server]);
    expect(unsigned.code).toBe(1);
    expect(unsigned.err).toMatch(/registerNode must be signed by test-operator/);
    expect(unsigned.err).toMatch(/hint: .*give --sign-key FILE and --audience NAME/);
    expect(await events('node', 'meter-unsigned')).toEqual([]);
    expect(existsSync(unsignedDir)).toBe(false);

    const dir = join(root, 'meter-signed');
    const init = await device(['init', '--node-id', 'meter-signed', '--kind', 'p256', '--dir', dir, ...server, ...signing]);
    expect(init.code, init.err).toBe(0);
    const [registered] = await events('node', 'meter-signed');
    expect(registered?.metadata.signature).toMatchObject({ audience: AUDIENCE });

    await operatorCommand(operator, 'enrolNode', { nodeId: 'meter-signed', subscriptionId: 'sub-signed', cseId: '/meter-signed-cse' });
    const provisioned = await device(['provision', '--dir', dir, '--credential-id', 'meter-signed-svc', '--kind', 'ed25519', '--server', service.url]);
    expect(provisioned.code, provisioned.err).toBe(0);

    const associateArgs = ['associate', '--dir', dir, '--association-id', 'meter-signed-sa', '--credential-id', 'meter-signed-svc', ...server];
    const unsignedAssociate = await device(associateArgs);
    expect(unsignedAssociate.code).toBe(1);
    expect(unsignedAssociate.err).toMatch(/configureAssociation must be signed[\s\S]*give --sign-key FILE/);
    const associated = await device([...associateArgs, ...signing]);
    expect(associated.code, associated.err).toBe(0);
    expect(associated.out).toMatch(/association meter-signed-sa established/);
    expect((await events('association', 'meter-signed-sa'))[0]?.metadata.signature).toMatchObject({ audience: AUDIENCE });

    // Without a token no operator command is sent: a signing key there is bad usage, said before anything is sent.
    const noToken = await device(['associate', '--dir', dir, '--association-id', 'x-sa', '--credential-id', 'meter-signed-svc', '--server', service.url, ...signing]);
    expect(noToken).toMatchObject({ code: 2, err: expect.stringContaining('--sign-key: only with an operator token') });
    const noAudience = await device(['init', '--node-id', 'meter-x', '--kind', 'ed25519', '--dir', join(root, 'meter-x'), ...server, '--sign-key', keyFile]);
    expect(noAudience).toMatchObject({ code: 2, err: expect.stringContaining('--audience: required with --sign-key') });
  }, 60_000);

  it('fleet signs its operator commands with --sign-key', async () => {
    const fleet = await device(['fleet', '--count', '2', '--prefix', 'signed-fleet', '--server', service.url, '--token', service.tokens.operator, '--sign-key', keyFile, '--audience', AUDIENCE, '--json']);
    expect(fleet.code, fleet.err).toBe(0);
    expect(JSON.parse(fleet.out)).toMatchObject({ count: 2, initialised: 2, provisioned: 2, associated: 2, failed: 0 });
  }, 60_000);

  it('a rerun of an unfinished signed init re-signs its commands and is answered as the same ones', async () => {
    const dir = join(root, 'meter-rerun');
    const request = {
      dir, nodeId: 'meter-rerun', kind: 'ed25519' as const, bootstrapCredentialId: 'meter-rerun-boot', validForSeconds: 86_400,
      profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] },
    };
    // The first run signs the registration and the issue; its answer to the third command is lost.
    let signed = 0;
    const losing: RequestSigner = {
      sign: (type, data, metadata) => {
        if (++signed === 3) throw new Error('connection lost');
        return signer.sign(type, data, metadata);
      },
      forget: () => {},
    };
    await expect(factory({ ...operator, signer: losing }, request)).rejects.toThrow('connection lost');
    expect(readPendingInit(dir)?.nodeId).toBe('meter-rerun');

    // Another lifetime: every signature of the rerun differs from the one recorded under the same command id.
    const rerunSigner = requestSigner({ signKey: keyFile, audience: AUDIENCE, signLifetime: 120 }, service.tokens.operator)!;
    try {
      const state = await factory({ ...operator, signer: rerunSigner }, request);
      expect(state.bootstrap.credentialId).toBe('meter-rerun-boot');
    } finally {
      rerunSigner.forget();
    }
    expect((await events('node', 'meter-rerun')).map((e) => e.event.type)).toEqual(['NodeRegistered']);
    expect((await events('credential', 'meter-rerun-boot')).map((e) => e.event.type)).toEqual(['CredentialIssued', 'CredentialProvisioned']);
    expect(readPendingInit(dir)).toBeUndefined();
  }, 60_000);
});
