import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command } from '../domain/commands/index.ts';
import type { Actor } from '../domain/metadata.ts';
import { DAY, FakeClock } from '../adapters/driven/clock/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { ExpectedRevision, type EventStore } from '../domain/ports/event-store.ts';
import { fmtMs, now, summarise } from './stats.ts';
import { placeholderKey } from '../test/support/fleet.ts';

const OPERATOR: Actor = { id: 'operator:bench', role: 'operator' };
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (days: number) => new Date(T0 + days * DAY).toISOString();
const fp = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;

/** `count` credentials already revoked, written straight into the store as valid histories. */
const seedRevoked = async (store: EventStore, count: number) => {
  for (let i = 0; i < count; i++) {
    const credentialId = `old-${i}`;
    const meta = (k: number) => ({
      schemaVersion: 1, actor: OPERATOR, commandId: eventIdFor(`old-${i}`, k + 100), commandType: 'seed',
      correlationId: credentialId, causationId: credentialId, occurredAt: iso(0),
    });
    await store.appendToStream(`credential-${credentialId}`, [
      { id: eventIdFor(credentialId, 0), type: 'CredentialIssued', data: { credentialId, kind: 'ed25519', publicKey: 'A'.repeat(43), purpose: 'service', owner: { kind: 'cse', id: `/cse-${i}` }, fingerprint: fp(i), notBefore: iso(0), notAfter: iso(365) }, metadata: meta(0) },
      { id: eventIdFor(credentialId, 1), type: 'CredentialProvisioned', data: { credentialId, method: 'pre-provisioning' }, metadata: meta(1) },
      { id: eventIdFor(credentialId, 2), type: 'CredentialRevoked', data: { credentialId, reason: 'keyCompromise' }, metadata: meta(2) },
    ], { expectedRevision: ExpectedRevision.noStream });
  }
};

/**
 * Revocation cost at scale: the time to revoke one credential (with its association, through the cascade) when
 * 0, 10,000 and 100,000 credentials are already revoked. Nothing in the path scans past revocations, so the time
 * per revocation should stay flat (Vault's PKI users report seconds per revocation at tens of thousands revoked).
 */
export async function benchRevocation(report: (line: string) => void): Promise<void> {
  const sizes = (process.env['BENCH_REVOKED'] ?? '0,10000,100000').split(',').map(Number);
  const sample = 200;
  for (const revoked of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'credence-revocation-'));
    const clock = new FakeClock(iso(1));
    const c = openCredence({ location: { memory: true }, clock, store: (await import('../adapters/driven/store/index.ts')).openSqliteStoreInDir(dir) });
    await seedRevoked(c.store, revoked);
    const run = (type: Parameters<typeof command>[0], data: Record<string, unknown>) => c.engine.execute(command(type, data, { actor: OPERATOR }));
    await run('createSubscription', { subscriptionId: 'sub', subscriber: 'bench', notBefore: iso(0), notAfter: iso(400) });
    await run('registerNode', { nodeId: 'gw', profile: { class: 'gateway', manufacturer: 'Acme', model: 'GW', capabilities: [] } });
    await run('enrolNode', { nodeId: 'gw', subscriptionId: 'sub', cseId: '/gw' });
    for (let i = 0; i < sample; i++) {
      await run('issueCredential', { credentialId: `new-${i}`, kind: 'ed25519', ...placeholderKey(`new-${i}`), purpose: 'service', owner: { kind: 'node', id: 'gw' }, notBefore: iso(0), notAfter: iso(365) });
      await run('provisionCredential', { credentialId: `new-${i}`, method: 'pre-provisioning' });
      await run('configureAssociation', { associationId: `sa-${i}`, nodeId: 'gw', credentialId: `new-${i}`, registree: { kind: 'cse', id: '/gw' }, registrarCseId: '/in-cse' });
      await run('establishAssociation', { associationId: `sa-${i}`, expiresAt: iso(30) });
    }
    await c.settle();
    const times: number[] = [];
    for (let i = 0; i < sample; i++) {
      const t = now();
      await run('revokeCredential', { credentialId: `new-${i}`, reason: 'keyCompromise' });
      await c.settle();
      times.push(now() - t);
    }
    const { p50, p99 } = summarise(times);
    report(`revoke 1 credential + cascade to its association, ${revoked.toLocaleString('en-US')} already revoked: p50 ${fmtMs(p50)}, p99 ${fmtMs(p99)} (${sample} samples)`);
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
