/**
 * Review 437 (SER-001): each responder's session table held up to 10,000 runs, not settable from the service (some
 * 9 to 11 KB of heap each pending: about 200 MB at both bounds). `limits.maxPendingDeviceSessions` now bounds both
 * responders' tables; a hello past it evicts the oldest pending run (SessionTable), so the table never grows past it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factory } from '../bin/commands/device/factory.ts';
import type { ServerTarget } from '../bin/commands/options.ts';
import { openDevice, type SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { fromBase64url, toBase64url } from '../domain/crypto/index.ts';
import { ServiceLimitsConfig } from '../adapters/http/service-limits-config.ts';
import { startTestService, type TestService } from './support/service.ts';

const BOUND = 100;

let svc: TestService;
let sim: SimulatedDevice;
let devicesDir: string;
beforeAll(async () => {
  svc = await startTestService({ config: { limits: { maxPendingDeviceSessions: BOUND, helloFloorMs: 0 } } });
  devicesDir = mkdtempSync(join(tmpdir(), 'credence-devices-'));
  const operator: ServerTarget = { url: svc.url, token: svc.tokens.operator };
  const now = new Date();
  await operatorCommand(operator, 'createSubscription', {
    subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: now.toISOString(), notAfter: new Date(now.getTime() + 365 * 86_400_000).toISOString(),
  });
  const dir = join(devicesDir, 'meter-b');
  await factory(operator, {
    dir, nodeId: 'meter-b', kind: 'ed25519', bootstrapCredentialId: 'meter-b-boot', validForSeconds: 5 * 365 * 86_400,
    profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] },
  });
  await operatorCommand(operator, 'enrolNode', { nodeId: 'meter-b', subscriptionId: 'sub-1', cseId: '/meter-b-cse' });
  sim = openDevice(dir);
}, 60_000);
afterAll(async () => {
  sim?.close();
  await svc?.close();
  if (devicesDir !== undefined) rmSync(devicesDir, { recursive: true, force: true });
});

describe('limits.maxPendingDeviceSessions (review 437)', () => {
  it('is 10,000 unless set, and refused outside 100 to 1,000,000', () => {
    expect(ServiceLimitsConfig.parse({}).maxPendingDeviceSessions).toBe(10_000);
    expect(ServiceLimitsConfig.safeParse({ maxPendingDeviceSessions: 99 }).success).toBe(false);
    expect(ServiceLimitsConfig.safeParse({ maxPendingDeviceSessions: 1_000_001 }).success).toBe(false);
  });

  it('bounds the pending provisioning hellos the service holds: past it each new hello evicts the oldest', async () => {
    const { id, publicKey } = sim.state.pinned.enrolmentFunction;
    const client = sim.device.provisioningClient({ id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } });
    const template = (await client.start({ credentialKind: 'ed25519', credentialId: 'bound-svc' })).hello;
    const ef = (await svc.service.context.credence.security()).infrastructure.enrolmentFunction;
    // One unknown node per hello (a decoy run each), from addresses of their own: no per-claimant bound applies.
    for (let i = 0; i < BOUND + 20; i++) {
      const reply = await svc.service.app.inject({
        method: 'POST', url: '/v1/enrolment/hello', remoteAddress: `198.51.100.${1 + (i % 200)}`,
        payload: { ...template, nodeId: `ghost-${i}`, nodeNonce: toBase64url(randomBytes(32)), sentAt: new Date().toISOString() },
      });
      expect(reply.statusCode).toBe(200);
      expect(ef.sessionCount).toBeLessThanOrEqual(BOUND);
    }
    expect(ef.sessionCount).toBe(BOUND);
  }, 60_000);
});
