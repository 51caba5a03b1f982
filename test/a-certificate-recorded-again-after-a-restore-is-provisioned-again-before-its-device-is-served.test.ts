import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { Device } from '../adapters/protocols/procedures/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { memorySecureEnvironment, seededRandom } from './crypto-fixtures.ts';
import { at, operator, profile, T0 } from './support/fleet.ts';
import { copyEventStore, moveTransparencyLogAside } from './support/restored-folder.ts';

/*
 * Review 264: README's recipe for a certificate the restored log lacks recorded its journal line's `issue` again
 * (`credence command issueCredential --data @issue.json`), which leaves the credential `initialized`: its device,
 * which holds the certificate, was then refused (`credentialUsable`). The journal is written by remote provisioning,
 * so the credential is provisioned again as such, authenticated on its node's bootstrap credential.
 */

const BASE_URL = 'https://credence.example';

describe('a certificate recorded again from its journal line after an events-only restore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-issued-again-'));
  const backup = mkdtempSync(join(tmpdir(), 'credence-issued-again-backup-'));
  const clock = new FakeClock(T0);
  const infraSe = memorySecureEnvironment('issued-again/infra', () => clock.now());
  const infra = ownerView(infraSe, 'maf:infrastructure');
  const ses: { close(): void }[] = [infraSe];
  let ca: IssuingCa;
  let credence: Credence | undefined;
  let opens = 0;
  const open = (): Credence =>
    (credence = openCredence({
      location: { dir },
      clock,
      security: { se: infraSe, random: seededRandom(`issued-again/random/${++opens}`), actor: operator, pki: { cas: [ca], baseUrl: BASE_URL } },
    }));
  const close = async (): Promise<void> => {
    await credence?.close();
    credence = undefined;
  };
  const devices = new Map<string, Device>();
  const device = (nodeId: string): Device => {
    let d = devices.get(nodeId);
    if (d === undefined) {
      const se = memorySecureEnvironment(`issued-again/${nodeId}`, () => clock.now());
      ses.push(se);
      d = new Device({ nodeId, se, now: () => clock.now(), random: seededRandom(`issued-again/${nodeId}/protocol`) });
      devices.set(nodeId, d);
    }
    return d;
  };
  const provision = async (c: Credence, nodeId: string, credentialId: string): Promise<void> => {
    const { procedures } = await c.security();
    await procedures.provisionRemotely({ device: device(nodeId), credentialId, kind: 'p256' });
  };
  const serialOf = async (c: Credence, credentialId: string): Promise<string> => {
    const issued = (await c.engine.entity('credential', credentialId)).events.find((e) => e.event.type === 'CredentialIssued')?.event;
    if (issued?.type !== 'CredentialIssued') throw new Error(`no CredentialIssued for ${credentialId}`);
    return issued.data.certificate!.serialNumber!;
  };
  const journal = (): { serialNumber: string; credentialId: string; issue: Record<string, unknown> }[] =>
    readFileSync(join(dir, 'pki', 'default.issued.jsonl'), 'utf8')
      .split('\n')
      .slice(1)
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { serialNumber: string; credentialId: string; issue: Record<string, unknown> });

  afterAll(async () => {
    await close();
    for (const se of ses) se.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(backup, { recursive: true, force: true });
  });

  it('serves its device once provisioned again on its node\'s bootstrap credential, as README says', async () => {
    ca = await createRootCa({ dataDir: dir, se: infra, id: 'default', kind: 'p256', now: clock.now(), random: seededRandom('issued-again/ca') });
    let c = open();
    const { procedures } = await c.security();
    await c.engine.execute(command('createSubscription', { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: T0, notAfter: at(2 * 365) }, { actor: operator }));
    await procedures.preProvision({ device: device('meter-2'), profile, bootstrapCredentialId: 'meter-2-boot', kind: 'ed25519', validity: { notBefore: T0, notAfter: at(5 * 365) } });
    await c.engine.execute(command('enrolNode', { nodeId: 'meter-2', subscriptionId: 'sub-1', cseId: '/meter-2-cse' }, { actor: operator }));
    await close();
    copyEventStore(dir, backup);

    // Provisioned after the backup, its certificate in its device; the restore loses its credential.
    c = open();
    await provision(c, 'meter-2', 'meter-2-svc');
    const lost = await serialOf(c, 'meter-2-svc');
    await close();
    copyEventStore(backup, dir);
    moveTransparencyLogAside(dir, backup);
    c = open();
    const associate = async (associationId: string) =>
      (await c.security()).procedures.associate({ device: device('meter-2'), associationId, credentialId: 'meter-2-svc', lifetimeSeconds: 3600 });

    // README's first step alone: recorded again, the credential is `initialized`, and its device is refused.
    const line = journal().find((r) => r.serialNumber === lost)!;
    await c.engine.execute(command('issueCredential', line.issue, { actor: operator }));
    await expect(associate('sa-1')).rejects.toThrow(/credentialUsable/);

    // The second: `credence credential provision meter-2-svc --method remote-provisioning --bootstrap-credential meter-2-boot`.
    await c.engine.execute(command('provisionCredential', { credentialId: 'meter-2-svc', method: 'remote-provisioning', bootstrapCredentialId: 'meter-2-boot' }, { actor: operator }));
    await associate('sa-2');
    expect((await c.engine.entity('association', 'sa-2')).events.length).toBeGreaterThan(0);
  }, 60_000);
});
