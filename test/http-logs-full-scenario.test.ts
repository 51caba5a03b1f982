/**
 * Issue 12, "Logs": a test scans the logs of a full scenario for every token and secret. The service runs at trace
 * level (the most it ever writes) through: tokens issued over HTTP for every role, operator commands, a device
 * made at the factory that provisions a psk256 and an ed25519 credential over HTTP and associates on each, an SSE
 * stream ended by a revocation, and refusals (a bad token, a forged one, a bad body, a bad protocol message).
 * Then no log line may hold any token, any token's signature, or any secret key the device holds (bootstrap and
 * provisioned private keys, the PSK the infrastructure holds as well, both session keys of each association, which
 * the Registrar CSE holds too) in any encoding; and each request line shows the authorization header redacted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { associateOverHttp, httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import { secureEnvironmentConfigForDataDir } from '../adapters/driven/secure-environment/index.ts';
import { systemRandom } from '../adapters/runtime/index.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import { simulatedDevice, type SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { readState } from '../bin/commands/device/state.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { factory } from '../bin/commands/device/factory.ts';
import type { ServerTarget } from '../bin/commands/options.ts';
import { secretEncodings } from './crypto-fixtures.ts';
import { body } from './http-conformance.fixtures.ts';
import { openStream } from './http-sse.fixtures.ts';
import { InspectableSecureEnvironment } from './support/inspectable-secure-environment.ts';
import { startTestService, type TestService } from './support/service.ts';

const ROLES = ['admin', 'operator', 'auditor', 'integrator'] as const;
const json = { 'content-type': 'application/json' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('logs of a full scenario at trace level: no token, no signature, no secret key', () => {
  let svc: TestService;
  let devicesDir: string;
  let sim: SimulatedDevice | undefined;
  const tokens: string[] = [];
  /** Every secret key the scenario made on the device's side, as bytes (exported for the test's eyes only). */
  const secrets = new Map<string, Uint8Array>();

  beforeAll(async () => {
    svc = await startTestService({ config: { logLevel: 'trace', limits: { sseHeartbeatMs: 100 } } });
    devicesDir = mkdtempSync(join(tmpdir(), 'credence-log-scan-'));
    tokens.push(...Object.values(svc.tokens));

    // Tokens for every role, issued over HTTP by an admin.
    const issued: Record<string, string> = {};
    for (const role of ROLES) {
      const response = await fetch(`${svc.url}/v1/tokens`, {
        method: 'POST',
        headers: { ...json, ...bearer(svc.tokens.admin) },
        body: JSON.stringify({ subject: `scan-${role}`, role, ttl: '1h' }),
      });
      expect(response.status).toBe(201);
      const { token, tokenId } = (await response.json()) as { token: string; tokenId: string };
      issued[role] = token;
      issued[`${role}Id`] = tokenId;
      tokens.push(token);
    }
    const operator: ServerTarget = { url: svc.url, token: issued['operator']! };

    // Operator commands.
    const now = Date.now();
    await operatorCommand(operator, 'createSubscription', {
      subscriptionId: 'sub-scan', subscriber: 'City Utilities', notBefore: new Date(now - 86_400_000).toISOString(), notAfter: new Date(now + 365 * 86_400_000).toISOString(),
    });

    // A device at the factory, then provisioned remotely (psk256, ed25519) and associated on each credential.
    const dir = join(devicesDir, 'meter-scan');
    await factory(operator, {
      dir, nodeId: 'meter-scan', kind: 'ed25519', bootstrapCredentialId: 'meter-scan-boot', validForSeconds: 5 * 365 * 86_400,
      profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] },
    });
    await operatorCommand(operator, 'enrolNode', { nodeId: 'meter-scan', subscriptionId: 'sub-scan', cseId: '/meter-scan-cse' });
    const se = InspectableSecureEnvironment.open(secureEnvironmentConfigForDataDir(dir), { now: () => new Date(), random: systemRandom });
    sim = simulatedDevice(dir, se, readState(dir));
    const keep = (name: string, handle: KeyHandle): void => {
      secrets.set(name, se.exportForTest(handle));
    };
    keep('bootstrap private key', sim.state.bootstrap.handle);
    const transport = httpDeviceTransport(svc.url);
    for (const kind of ['psk256', 'ed25519'] as const) {
      const credentialId = `meter-scan-${kind}`;
      const { result } = await provisionOverHttp(transport, sim.device, { credentialId, kind, enrolmentFunction: sim.state.pinned.enrolmentFunction });
      keep(`${kind} credential key`, result.handle);
      const associationId = `meter-scan-sa-${kind}`;
      await operatorCommand(operator, 'configureAssociation', {
        associationId, nodeId: 'meter-scan', credentialId, registree: { kind: 'cse', id: sim.device.cseId }, registrarCseId: sim.state.pinned.registrar.id,
      });
      const outcome = await associateOverHttp(transport, sim.device, { associationId, credentialId, lifetimeSeconds: 7 * 86_400, registrar: sim.state.pinned.registrar });
      keep(`${kind} association send key`, outcome.sessionKeys.send);
      keep(`${kind} association receive key`, outcome.sessionKeys.receive);
    }

    // An SSE stream (integrator), ended by the revocation of its token.
    const stream = await openStream(svc.url, issued['integrator']!, '/v1/events?after=0');
    expect(stream.status).toBe(200);
    await stream.until(() => stream.events().length > 0, 'the first events');
    const revoked = await fetch(`${svc.url}/v1/tokens/${issued['integratorId']!}`, { method: 'DELETE', headers: bearer(issued['admin']!) });
    expect(revoked.status).toBe(204);
    await stream.ended;
    stream.close();

    // Refusals: the revoked token, a forged one (signature altered), garbage, a bad body, a bad protocol message.
    const [header, payload, signature] = issued['auditor']!.split('.');
    const forged = `${header}.${payload}.${signature!.startsWith('A') ? 'B' : 'A'}${signature!.slice(1)}`;
    tokens.push(forged);
    for (const token of [issued['integrator']!, forged, 'not-a-jwt']) {
      const refused = await fetch(`${svc.url}/v1/entities?kind=node`, { headers: bearer(token) });
      expect(refused.status).toBe(401);
    }
    const bad = await fetch(`${svc.url}/v1/commands`, { method: 'POST', headers: { ...json, ...bearer(issued['operator']!) }, body: JSON.stringify({ ...body.registerNode('bad id!'), extra: 1 }) });
    expect(bad.status).toBe(400);
    const protocol = await fetch(`${svc.url}/v1/enrolment/hello`, { method: 'POST', headers: json, body: JSON.stringify({ type: 'provisioning.hello', nonce: 'x' }) });
    expect(protocol.status).toBeGreaterThanOrEqual(400);
    // A token in a query string (a careless client): its value is redacted from the logged URL.
    await fetch(`${svc.url}/v1/entities?kind=node&access_token=${issued['auditor']!}`, { headers: bearer(issued['auditor']!) });
    // Under names of its own: a known one, and one that only the value's shape (a JWT) gives away.
    await fetch(`${svc.url}/v1/entities?kind=node&jwt=${issued['auditor']!}`, { headers: bearer(issued['auditor']!) });
    await fetch(`${svc.url}/v1/entities?kind=node&t=${issued['auditor']!}`, { headers: bearer(issued['auditor']!) });
  }, 120_000);

  afterAll(async () => {
    sim?.close();
    await svc?.close();
    if (devicesDir !== undefined) rmSync(devicesDir, { recursive: true, force: true });
  });

  it('ran the whole scenario at trace level', () => {
    expect(secrets.size).toBe(7);
    const messages = svc.logs().map((l) => (JSON.parse(l) as { msg?: string }).msg);
    for (const msg of ['token issued', 'token revoked', 'event stream ended', 'request completed']) expect(messages).toContain(msg);
  });

  it('holds no token string and no token signature on any line', () => {
    const text = svc.logs().join('\n');
    expect(tokens.length).toBe(ROLES.length * 2 + 1);
    // Named by position, never printed: a failing test must not put the token into the test output either.
    const leaked = tokens.flatMap((token, i) => {
      const signature = token.split('.')[2]!;
      return [...(text.includes(token) ? [`token ${i}`] : []), ...(text.includes(signature) ? [`signature of token ${i}`] : [])];
    });
    expect(leaked).toEqual([]);
  });

  it('holds none of the secret keys in any encoding (raw, hex either case, base64, base64url)', () => {
    const text = Buffer.from(svc.logs().join('\n'));
    const found = [...secrets].filter(([, bytes]) => secretEncodings(bytes).some((needle) => text.includes(needle))).map(([name]) => name);
    expect(found).toEqual([]);
  });

  it('logs each authenticated request with its authorization header redacted', () => {
    const requests = svc.logs()
      .map((l) => JSON.parse(l) as { req?: { url: string; headers?: Record<string, string> } })
      .filter((l) => l.req !== undefined);
    const authorised = requests.filter((l) => l.req!.headers?.['authorization'] !== undefined);
    expect(authorised.length).toBeGreaterThan(10);
    expect(new Set(authorised.map((l) => l.req!.headers!['authorization']))).toEqual(new Set(['[redacted]']));
    // The three careless requests: a name that is not the service's is redacted with its value (review 48).
    expect(requests.filter((l) => l.req!.url === '/v1/entities?kind=node&[redacted]').length).toBeGreaterThanOrEqual(3);
  });
});
