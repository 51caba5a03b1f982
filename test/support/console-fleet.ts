import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command } from '../../domain/commands/index.ts';
import { generateSigningKey, toBase64url } from '../../domain/crypto/index.ts';
import { signCommand, type RequestSigningPolicyInput } from '../../domain/signing/index.ts';
import { settled } from '../http-sse.fixtures.ts';
import { issueCredentialData, profile } from './fleet.ts';
import { startTestService, type TestService, type TestServiceOptions } from './service.ts';

/**
 * A small fleet for the web console's browser tests and screenshots, driven through POST /v1/commands with the
 * operator token as a real client would: a subscription, four smart meters with bootstrap and service credentials
 * and associations with the Registrar CSE, one service credential expiring within a week, the App-ID Rmetering with
 * its credential and two AE instances on meter-1, and meter-3 revoked for key compromise by a request signed under
 * CONSOLE_SIGNING's policy (SER-016), which the live cascade carries to its credentials and association.
 */

const DAY = 86_400_000;
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

export const CONSOLE_FLEET = {
  subscription: 'city-utilities',
  nodes: ['meter-1', 'meter-2', 'meter-3', 'meter-4'],
  revoked: 'meter-3',
  application: 'Rmetering',
  instances: ['Cmeter1', 'Cmeter2'],
} as const;

/** The operator key the test service's operator token (subject `test-operator`) signs with, and the policy naming it. */
const operatorKey = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const AUDIENCE = 'credence:console-test';
export const CONSOLE_SIGNING: { readonly policy: RequestSigningPolicyInput } = {
  policy: {
    audience: AUDIENCE,
    require: ['revokeNode'],
    keys: [{ actorId: 'test-operator', roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(operatorKey.publicKey) }],
  },
};

export const postCommand = async (svc: TestService, type: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<unknown> => {
  const response = await fetch(`${svc.url}/v1/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type, data, ...extra }),
  });
  const body: unknown = await response.json();
  if (!response.ok) throw new Error(`${type} refused: ${response.status} ${JSON.stringify(body)}`);
  return body;
};

/** A command signed by test-operator's key, as a client holding it sends it: its commandId and signature in the body. */
const postSigned = async (svc: TestService, type: 'revokeNode', data: Record<string, unknown>): Promise<unknown> => {
  const signed = signCommand(
    command(type, data, { actor: { id: 'test-operator', role: 'operator' }, commandId: randomUUID() }),
    { algorithm: 'ed25519', secretKey: operatorKey.secretKey },
    { audience: AUDIENCE, issuedAt: new Date(), lifetimeSeconds: 120 },
  );
  return postCommand(svc, type, data, { commandId: signed.metadata.commandId, signature: signed.metadata.signature });
};

/** The real service with CONSOLE_SIGNING's request-signing policy (read once, when it starts). */
export const startConsoleService = async (options: TestServiceOptions = {}): Promise<TestService> => {
  const folder = mkdtempSync(join(tmpdir(), 'credence-console-signing-'));
  try {
    const file = join(folder, 'signing.json');
    writeFileSync(file, JSON.stringify(CONSOLE_SIGNING.policy));
    return await startTestService({ ...options, config: { ...options.config, signing: file } });
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
};

/** Seeds the fleet; the service must run with CONSOLE_SIGNING's policy (`config.signing`), which requires a signed revokeNode. */
export const seedConsoleFleet = async (svc: TestService): Promise<void> => {
  const { subscription, application } = CONSOLE_FLEET;
  await postCommand(svc, 'createSubscription', { subscriptionId: subscription, subscriber: 'City Utilities', notBefore: iso(-DAY), notAfter: iso(365 * DAY) });
  for (const [i, nodeId] of CONSOLE_FLEET.nodes.entries()) {
    await postCommand(svc, 'registerNode', { nodeId, profile });
    await postCommand(svc, 'enrolNode', { nodeId, subscriptionId: subscription, cseId: `/cse-${nodeId}` });
    // meter-2's service credential ends within a week: the overview lists it as expiring soon.
    const notAfter = iso((nodeId === 'meter-2' ? 6 : 90 + i) * DAY);
    await postCommand(svc, 'issueCredential', issueCredentialData(`${nodeId}-service`, nodeId, { notBefore: iso(-DAY), notAfter }));
    await postCommand(svc, 'provisionCredential', { credentialId: `${nodeId}-service`, method: 'pre-provisioning' });
    await postCommand(svc, 'configureAssociation', {
      associationId: `${nodeId}-sa`,
      nodeId,
      credentialId: `${nodeId}-service`,
      registree: { kind: 'cse', id: `/cse-${nodeId}` },
      registrarCseId: '/in-cse',
    });
    await postCommand(svc, 'establishAssociation', { associationId: `${nodeId}-sa`, expiresAt: iso(5 * DAY) });
  }
  // An App-ID with its application credential and two AE instances hosted on meter-1.
  await postCommand(svc, 'registerApplication', { appId: application, name: 'metering', provider: 'City Utilities' });
  await postCommand(svc, 'issueCredential', {
    ...issueCredentialData(`${application}-app`, 'meter-1', { notBefore: iso(-DAY), notAfter: iso(200 * DAY) }),
    purpose: 'application',
    owner: { kind: 'app', id: application },
  });
  await postCommand(svc, 'provisionCredential', { credentialId: `${application}-app`, method: 'pre-provisioning' });
  await postCommand(svc, 'enrolApplication', { appId: application, credentialId: `${application}-app` });
  for (const ae of CONSOLE_FLEET.instances) {
    await postCommand(svc, 'configureAssociation', {
      associationId: `${ae}-sa`,
      nodeId: 'meter-1',
      credentialId: `${application}-app`,
      registree: { kind: 'ae', id: ae, appId: application },
      registrarCseId: '/in-cse',
    });
    await postCommand(svc, 'establishAssociation', { associationId: `${ae}-sa`, expiresAt: iso(5 * DAY) });
  }
  await settled(svc);
  await postSigned(svc, 'revokeNode', { nodeId: CONSOLE_FLEET.revoked, reason: 'keyCompromise' });
  await settled(svc);
};
