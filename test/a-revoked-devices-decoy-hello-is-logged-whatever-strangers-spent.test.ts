import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromBase64url } from '../domain/crypto/index.ts';
import { openDevice } from '../bin/commands/device/simulator.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { factory } from '../bin/commands/device/factory.ts';
import type { ServerTarget } from '../bin/commands/options.ts';
import { MAX_REFUSALS_LOGGED_PER_WINDOW, REFUSALS_LOGGED_PER_ADDRESS } from '../adapters/http/refusal-sampling.ts';
import { startTestService } from './support/service.ts';
import { strangersHello } from './support/strangers-hello.ts';

/*
 * Review 448: 0488ef08 sampled the `hello answered with a decoy challenge` line with the API port's
 * refusals, in the same 20 per address and 200 per window. A revoked device's hello then left no trace once its
 * address had sent 20 404s, or strangers had sent 200 junk hellos from 10 addresses: its `credential_revoked` reason
 * was on no line, and that line is the only record (nothing of a decoy run is stored), the one the operator reads when
 * the device is told to ask. Now a decoy line draws on no refusal budget: a stranger's made-up credential is sampled
 * per address by a sampler of its own, a credential the store knows is logged whole the first time in a window, and a
 * counter counts every decoy hello.
 */

interface LogLine {
  readonly msg?: string;
  readonly step?: string;
  readonly reason?: string;
  readonly nodeId?: string;
  readonly fingerprint?: string;
  readonly remoteAddress?: string;
  readonly suppressed?: number;
}

const DEVICE_ADDRESS = '192.0.2.50';
const STRANGER_ADDRESSES = Array.from({ length: 10 }, (_, i) => `198.51.100.${i + 1}`);

describe('a revoked device\'s hello, after its address and strangers spent the refusal sampler\'s budget', () => {
  it('is logged whole with its reason and credential, and the counter counts every decoy hello', async () => {
    // A probe port: /metrics is not public, so the decoy hellos are counted (docs/service.md, Metrics).
    const svc = await startTestService({ config: { probePort: 0, trustProxy: ['127.0.0.1'], limits: { rateLimitWindowMs: 600_000, helloFloorMs: 0 } } });
    const devicesDir = mkdtempSync(join(tmpdir(), 'credence-devices-'));
    const operator: ServerTarget = { url: svc.url, token: svc.tokens.operator };
    let lines: LogLine[] = [];
    let metrics = '';
    const nodeId = 'zz-revoked-node';
    let fingerprint = '';
    try {
      const now = new Date();
      await operatorCommand(operator, 'createSubscription', {
        subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: now.toISOString(), notAfter: new Date(now.getTime() + 365 * 86_400_000).toISOString(),
      });
      const dir = join(devicesDir, nodeId);
      await factory(operator, {
        dir, nodeId, kind: 'ed25519', bootstrapCredentialId: `${nodeId}-boot`, validForSeconds: 5 * 365 * 86_400,
        profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] },
      });
      await operatorCommand(operator, 'enrolNode', { nodeId, subscriptionId: 'sub-1', cseId: `/${nodeId}-cse` });
      await operatorCommand(operator, 'revokeCredential', { credentialId: `${nodeId}-boot`, reason: 'keyCompromise' });
      const node = openDevice(dir);
      try {
        const { id, publicKey } = node.state.pinned.enrolmentFunction;
        const post = async (path: string, body: unknown, from: string) => {
          const res = await fetch(`${svc.url}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
            body: JSON.stringify(body),
          });
          return { status: res.status, body: (await res.json()) as { type?: string } };
        };
        // The device's own address spends its 20 refusal lines on 404s.
        for (let i = 0; i < REFUSALS_LOGGED_PER_ADDRESS; i++) {
          const res = await fetch(`${svc.url}/no-such-route/${i}`, { headers: { 'x-forwarded-for': DEVICE_ADDRESS } });
          await res.arrayBuffer();
          expect(res.status).toBe(404);
        }
        // Strangers send the window's 200 in all, 20 from each of 10 addresses, as junk hellos.
        let i = 0;
        for (const from of STRANGER_ADDRESSES) {
          for (let k = 0; k < MAX_REFUSALS_LOGGED_PER_WINDOW / STRANGER_ADDRESSES.length; k++, i++) {
            expect(await post('/v1/enrolment/hello', strangersHello(id, i), from)).toMatchObject({ status: 200, body: { type: 'provisioning.challenge' } });
          }
        }
        // The revoked device's real hello.
        const session = await node.device
          .provisioningClient({ id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } })
          .start({ credentialKind: 'ed25519', credentialId: 'zz-revoked-node-op' });
        fingerprint = session.hello.bootstrap.fingerprint;
        expect(await post('/v1/enrolment/hello', session.hello, DEVICE_ADDRESS)).toMatchObject({ status: 200, body: { type: 'provisioning.challenge' } });
        await session.abort();
        metrics = await (await fetch(`${svc.service.probeUrl!}/metrics`)).text();
      } finally {
        node.close();
      }
    } finally {
      await svc.close();
      rmSync(devicesDir, { recursive: true, force: true });
      lines = svc.logs().map((l) => JSON.parse(l) as LogLine);
    }
    const decoys = lines.filter((l) => l.msg === 'hello answered with a decoy challenge');
    // The revoked device's reason, naming its credential and where the hello came from.
    expect(decoys.filter((l) => l.reason === 'credential_revoked')).toEqual([
      expect.objectContaining({ step: 'provisioning.hello', reason: 'credential_revoked', nodeId, fingerprint, remoteAddress: DEVICE_ADDRESS }),
    ]);
    // The strangers' own lines: sampled per address by a sampler of their own, all 200 within its bounds here.
    expect(decoys.filter((l) => l.reason === 'unknown_credential')).toHaveLength(MAX_REFUSALS_LOGGED_PER_WINDOW);
    // Every decoy hello counted, whatever was logged.
    expect(metrics).toMatch(/^credence_decoy_hellos_total\{step="provisioning\.hello",reason="unknown_credential"\} 200$/m);
    expect(metrics).toMatch(/^credence_decoy_hellos_total\{step="provisioning\.hello",reason="credential_revoked"\} 1$/m);
    // No secret on any line: the device's bootstrap key, the challenge's nonce are never logged.
    expect(JSON.stringify(lines)).not.toMatch(/privateKey|"psk"|secret/i);
  }, 180_000);
});
