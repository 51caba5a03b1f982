import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createRootCa, loadIssuingCas, requestIntermediateCa } from '../adapters/driven/pki/index.ts';
import { Device } from '../adapters/protocols/procedures/index.ts';
import { openCredence, openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { issuingCaFor } from '../domain/x509/issuance/index.ts';
import { memorySecureEnvironment, seededRandom } from './crypto-fixtures.ts';
import { at, operator, profile, T0 } from './support/fleet.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Found in review 287 (2): after `credence ca init --id sub-1 --intermediate` and before `ca install`, the nodes of
 * subscription sub-1 were certified by CA `default`: the waiting CA was left out of those loaded, and a node whose
 * subscription has no CA (as far as the selection knew) gets `default`'s. Sub-1's relying parties, trusting their
 * external root, refused those certificates; everyone trusting `default` took them. A node of a subscription whose
 * CA awaits its certificate is now refused (`certificate_not_issued`, rule subscription_ca_not_installed, naming the
 * CA and `credence ca install --id sub-1`) with nothing recorded, and the start warns of each waiting CA.
 */
const folder = temporaryFolders('credence-ca-waiting-');

/** A folder with a root `default` and an intermediate `sub-1` awaiting its certificate, loaded as a service does. */
const folderWithWaitingSub1 = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-ca-waiting-'));
  const clock = new FakeClock(T0);
  const random = seededRandom('ca-waiting/random');
  const infraSe = memorySecureEnvironment('ca-waiting/infra', () => clock.now());
  const infra = ownerView(infraSe, 'maf:infrastructure');
  await createRootCa({ dataDir: dir, se: infra, id: 'default', kind: 'p256', now: clock.now(), random });
  await requestIntermediateCa({ dataDir: dir, se: infra, id: 'sub-1', kind: 'p256', now: clock.now(), random });
  const cas = await loadIssuingCas(dir, infra);
  return { dir, clock, random, infraSe, cas };
};

describe('a subscription whose CA awaits its certificate', () => {
  const closing: (() => unknown)[] = [];
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  it('is loaded as waiting, and its nodes are refused a CA rather than given default; other nodes still get default', async () => {
    const f = await folderWithWaitingSub1();
    closing.push(() => rmSync(f.dir, { recursive: true, force: true }), () => f.infraSe.close());
    expect(f.cas.map((ca) => ca.id)).toEqual(['default']);
    expect(f.cas.awaitingCertificate).toEqual(['sub-1']);

    let refusal: unknown;
    try {
      issuingCaFor(f.cas, 'sub-1');
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toMatchObject({ problem: { code: 'protocol', step: 'provisioning.auth', reason: 'certificate_not_issued' } });
    const message = (refusal as { problem: { message: string } }).problem.message;
    expect(message).toContain('subscription_ca_not_installed');
    expect(message).toContain('CA sub-1');
    expect(message).toContain('credence ca install --id sub-1');
    expect(issuingCaFor(f.cas, 'sub-2')?.id).toBe('default');
    expect(issuingCaFor(f.cas, undefined)?.id).toBe('default');
  });

  it("refuses remote provisioning of its node with a CSR, at the auth step, and records nothing; sub-2's node is certified by default", async () => {
    const f = await folderWithWaitingSub1();
    const credence = openCredence({
      location: { dir: f.dir },
      clock: f.clock,
      security: { se: f.infraSe, random: f.random, actor: operator, pki: { cas: f.cas, baseUrl: 'https://credence.example' } },
    });
    closing.push(() => rmSync(f.dir, { recursive: true, force: true }), () => f.infraSe.close(), () => credence.close());
    const { procedures } = await credence.security();
    const enrolled = async (nodeId: string, subscriptionId: string) => {
      const se = memorySecureEnvironment(`ca-waiting/${nodeId}`, () => f.clock.now());
      closing.push(() => se.close());
      const device = new Device({ nodeId, se, now: () => f.clock.now(), random: seededRandom(`ca-waiting/${nodeId}/protocol`) });
      await procedures.preProvision({ device, profile, bootstrapCredentialId: `${nodeId}-boot`, kind: 'ed25519', validity: { notBefore: T0, notAfter: at(5 * 365) } });
      await credence.engine.execute({ type: 'enrolNode', data: { nodeId, subscriptionId, cseId: `/${nodeId}-cse` }, metadata: { actor: operator } });
      return device;
    };
    for (const subscriptionId of ['sub-1', 'sub-2']) {
      await credence.engine.execute({
        type: 'createSubscription',
        data: { subscriptionId, subscriber: 'City Utilities', notBefore: T0, notAfter: at(2 * 365) },
        metadata: { actor: operator },
      });
    }

    const refused = procedures.provisionRemotely({ device: await enrolled('meter-1', 'sub-1'), credentialId: 'meter-1-svc', kind: 'p256' });
    await expect(refused).rejects.toMatchObject({ problem: { code: 'protocol', step: 'provisioning.auth', reason: 'certificate_not_issued' } });
    await expect(refused).rejects.toThrow(/credence ca install --id sub-1/);
    expect((await credence.engine.entity('credential', 'meter-1-svc')).events).toHaveLength(0);
    expect(existsSync(join(f.dir, 'pki', 'default.issued.jsonl'))).toBe(false);

    await procedures.provisionRemotely({ device: await enrolled('meter-2', 'sub-2'), credentialId: 'meter-2-svc', kind: 'p256' });
    const issued = (await credence.engine.entity('credential', 'meter-2-svc')).events.find((e) => e.event.type === 'CredentialIssued')?.event;
    expect(issued?.type === 'CredentialIssued' && issued.data.certificate?.issuingCa).toBe('default');
  }, 60_000);

  it('is warned of at start, once, naming it and the command that installs it', async () => {
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const dir = folder();
    const se = openDataFolderSecureEnvironment(dir, { now: () => now });
    try {
      const infra = ownerView(se, 'maf:infrastructure');
      await createRootCa({ dataDir: dir, se: infra, id: 'default', kind: 'p256', now, random: systemRandom });
      await requestIntermediateCa({ dataDir: dir, se: infra, id: 'sub-1', kind: 'p256', now, random: systemRandom });
    } finally {
      se.close();
    }
    const svc = await startTestService({ dir, clock: new FakeClock(now) });
    try {
      const warnings = svc
        .logs()
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line['level'] === 40 && line['caId'] === 'sub-1');
      expect(warnings).toHaveLength(1);
      expect(String(warnings[0]!['msg'])).toContain('CA sub-1 awaits its certificate');
      expect(String(warnings[0]!['msg'])).toContain('credence ca install --id sub-1');
    } finally {
      await svc.close();
    }
  }, 60_000);
});
