import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createRootCa, loadIssuingCas, requestIntermediateCa } from '../adapters/driven/pki/index.ts';
import { Device } from '../adapters/protocols/procedures/index.ts';
import { openCredence, openDataFolderSecureEnvironment, systemRandom, type Credence } from '../adapters/runtime/index.ts';
import { M2MSubId } from '../domain/ids.ts';
import { ownerView } from '../domain/ports/index.ts';
import { issuingCaFor } from '../domain/x509/issuance/index.ts';
import { memorySecureEnvironment, seededRandom } from './crypto-fixtures.ts';
import { runCli } from './support/cli.ts';
import { entityState as state } from './support/credential-holders.ts';
import { at, operator, profile, T0 } from './support/fleet.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Found in review 355: a CA's id had to be the M2M-Sub-ID it certifies, but CA ids are lowercase letters, digits and
 * dashes while an M2M-Sub-ID may hold upper case, . _ : ~ and run to 128 characters. `ca init --id Sub-A` was refused,
 * and a CA `sub-a` never matched subscription Sub-A: its nodes were certified by `default`, with no warning, and even
 * while `sub-a` awaited its certificate (review 287's refusal never triggered). A CA now names the subscription it
 * certifies (`ca init --id sub-a-ca --subscription Sub-A`); an id-named CA keeps certifying the subscription of its id.
 */
const folder = temporaryFolders('credence-ca-subscription-');
const SUB_A = M2MSubId.parse('Sub-A');

const world = async (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-ca-subscription-'));
  const clock = new FakeClock(T0);
  const random = seededRandom(`ca-subscription/${name}`);
  const infraSe = memorySecureEnvironment(`ca-subscription/${name}`, () => clock.now());
  const infra = ownerView(infraSe, 'maf:infrastructure');
  await createRootCa({ dataDir: dir, se: infra, id: 'default', kind: 'p256', now: clock.now(), random });
  return { dir, clock, random, infraSe, infra };
};

describe('a CA that names the M2M Service Subscription it certifies', () => {
  const closing: (() => unknown)[] = [];
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  /** Provisions remotely a node of `subscriptionId` (created here) with a CSR; the certificate's issuing CA, or the refusal. */
  const provisionUnder = async (w: Awaited<ReturnType<typeof world>>, subscriptionId: string, nodeId: string) => {
    const credence = openCredence({
      location: { dir: w.dir },
      clock: w.clock,
      security: { se: w.infraSe, random: w.random, actor: operator, pki: { cas: await loadIssuingCas(w.dir, w.infra), baseUrl: 'https://credence.example' } },
    });
    closing.push(() => credence.close());
    const { procedures } = await credence.security();
    await credence.engine.execute({
      type: 'createSubscription',
      data: { subscriptionId, subscriber: 'City Utilities', notBefore: T0, notAfter: at(2 * 365) },
      metadata: { actor: operator },
    });
    const se = memorySecureEnvironment(`ca-subscription/${nodeId}`, () => w.clock.now());
    closing.push(() => se.close());
    const device = new Device({ nodeId, se, now: () => w.clock.now(), random: seededRandom(`ca-subscription/${nodeId}/protocol`) });
    await procedures.preProvision({ device, profile, bootstrapCredentialId: `${nodeId}-boot`, kind: 'ed25519', validity: { notBefore: T0, notAfter: at(5 * 365) } });
    await credence.engine.execute({ type: 'enrolNode', data: { nodeId, subscriptionId, cseId: `/${nodeId}-cse` }, metadata: { actor: operator } });
    const provisioned = procedures.provisionRemotely({ device, credentialId: `${nodeId}-svc`, kind: 'p256' });
    return { credence, provisioned };
  };

  it('certifies the nodes of subscription Sub-A: ca init --id sub-a-ca --subscription Sub-A', async () => {
    const w = await world('active');
    closing.push(() => rmSync(w.dir, { recursive: true, force: true }), () => w.infraSe.close());
    await createRootCa({ dataDir: w.dir, se: w.infra, id: 'sub-a-ca', subscription: SUB_A, kind: 'p256', now: w.clock.now(), random: w.random });
    const cas = await loadIssuingCas(w.dir, w.infra);
    expect(issuingCaFor(cas, 'Sub-A')?.id).toBe('sub-a-ca');
    // Named explicitly, it certifies that subscription only: not one that happens to be spelt as its id.
    expect(issuingCaFor(cas, 'sub-a-ca')?.id).toBe('default');
    expect(issuingCaFor(cas, 'sub-a')?.id).toBe('default');

    const { credence, provisioned } = await provisionUnder(w, 'Sub-A', 'meter-a');
    await provisioned;
    const issued = (await credence.engine.entity('credential', 'meter-a-svc')).events.find((e) => e.event.type === 'CredentialIssued')?.event;
    expect(issued?.type === 'CredentialIssued' && issued.data.certificate?.issuingCa).toBe('sub-a-ca');
  }, 60_000);

  /** The certificate CredentialIssued recorded of `credentialId`. */
  const recordedCertificate = async (credence: Credence, credentialId: string) => {
    const issued = (await credence.engine.entity('credential', credentialId)).events.find((e) => e.event.type === 'CredentialIssued')?.event;
    return issued?.type === 'CredentialIssued' ? issued.data.certificate : undefined;
  };

  /** Enrols `nodeId` (provisioned by provisionUnder) under sub-2, made here, with its CSE-ID unchanged (RS-17). */
  const movedToSub2 = async (credence: Credence, nodeId: string) => {
    await credence.engine.execute({
      type: 'createSubscription',
      data: { subscriptionId: 'sub-2', subscriber: 'Water Board', notBefore: T0, notAfter: at(2 * 365) },
      metadata: { actor: operator },
    });
    await credence.engine.execute({ type: 'enrolNode', data: { nodeId, subscriptionId: 'sub-2', cseId: `/${nodeId}-cse` }, metadata: { actor: operator } });
    await credence.settle();
  };

  it("revokes, affiliationChanged, a certificate of sub-a-ca when its node of Sub-A is enrolled under sub-2: Sub-A's relying parties accept it no more", async () => {
    const w = await world('moved');
    closing.push(() => rmSync(w.dir, { recursive: true, force: true }), () => w.infraSe.close());
    await createRootCa({ dataDir: w.dir, se: w.infra, id: 'sub-a-ca', subscription: SUB_A, kind: 'p256', now: w.clock.now(), random: w.random });
    const { credence, provisioned } = await provisionUnder(w, 'Sub-A', 'meter-a');
    await provisioned;
    // Recorded with the subscription its CA names: the log alone says whose the certificate says the node is.
    expect(await recordedCertificate(credence, 'meter-a-svc')).toMatchObject({ issuingCa: 'sub-a-ca', issuingCaCertifies: 'Sub-A' });
    await movedToSub2(credence, 'meter-a');
    expect(await state(credence.engine, 'credential', 'meter-a-svc')).toEqual(['meter-a-svc', 'revoked', 'affiliationChanged']);
  }, 60_000);

  it('records a certificate of a CA certifying the subscription of its id as before (no issuingCaCertifies), and revokes it on a move as before', async () => {
    const w = await world('by-id');
    closing.push(() => rmSync(w.dir, { recursive: true, force: true }), () => w.infraSe.close());
    await createRootCa({ dataDir: w.dir, se: w.infra, id: 'sub-1', kind: 'p256', now: w.clock.now(), random: w.random });
    const { credence, provisioned } = await provisionUnder(w, 'sub-1', 'meter-1');
    await provisioned;
    const certificate = await recordedCertificate(credence, 'meter-1-svc');
    expect(certificate?.['issuingCa']).toBe('sub-1');
    expect(certificate).not.toHaveProperty('issuingCaCertifies');
    await movedToSub2(credence, 'meter-1');
    expect(await state(credence.engine, 'credential', 'meter-1-svc')).toEqual(['meter-1-svc', 'revoked', 'affiliationChanged']);
  }, 60_000);

  it('warns at start of sub-a-ca awaiting its certificate naming the subscription it certifies, Sub-A, not its id', async () => {
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const dir = folder();
    const se = openDataFolderSecureEnvironment(dir, { now: () => now });
    try {
      const infra = ownerView(se, 'maf:infrastructure');
      await createRootCa({ dataDir: dir, se: infra, id: 'default', kind: 'p256', now, random: systemRandom });
      await requestIntermediateCa({ dataDir: dir, se: infra, id: 'sub-a-ca', subscription: SUB_A, kind: 'p256', now, random: systemRandom });
    } finally {
      se.close();
    }
    const svc = await startTestService({ dir, clock: new FakeClock(now) });
    try {
      const warnings = svc
        .logs()
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line['level'] === 40 && line['caId'] === 'sub-a-ca');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!['subscription']).toBe('Sub-A');
      expect(String(warnings[0]!['msg'])).toContain('for a node of M2M Service Subscription Sub-A that sends a CSR');
      expect(String(warnings[0]!['msg'])).toContain('credence ca install --id sub-a-ca');
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('refuses the nodes of Sub-A while sub-a-ca awaits its certificate, as review 287 does, never certifying them by default', async () => {
    const w = await world('waiting');
    closing.push(() => rmSync(w.dir, { recursive: true, force: true }), () => w.infraSe.close());
    await requestIntermediateCa({ dataDir: w.dir, se: w.infra, id: 'sub-a-ca', subscription: SUB_A, kind: 'p256', now: w.clock.now(), random: w.random });
    const cas = await loadIssuingCas(w.dir, w.infra);
    expect(() => issuingCaFor(cas, 'Sub-A')).toThrow(/subscription_ca_not_installed: CA sub-a-ca of M2M Service Subscription Sub-A awaits its certificate.*credence ca install --id sub-a-ca/);

    const { credence, provisioned } = await provisionUnder(w, 'Sub-A', 'meter-w');
    await expect(provisioned).rejects.toMatchObject({ problem: { code: 'protocol', step: 'provisioning.auth', reason: 'certificate_not_issued' } });
    expect((await credence.engine.entity('credential', 'meter-w-svc')).events).toHaveLength(0);
  }, 60_000);

  it('refuses a second CA naming the same subscription, at init and at load, naming both', async () => {
    const w = await world('twice');
    closing.push(() => rmSync(w.dir, { recursive: true, force: true }), () => w.infraSe.close());
    await createRootCa({ dataDir: w.dir, se: w.infra, id: 'sub-a-ca', subscription: SUB_A, kind: 'p256', now: w.clock.now(), random: w.random });
    await expect(
      createRootCa({ dataDir: w.dir, se: w.infra, id: 'sub-a-other', subscription: SUB_A, kind: 'p256', now: w.clock.now(), random: w.random }),
    ).rejects.toMatchObject({ problem: { code: 'validation', issues: [{ path: 'subscription', rule: 'one_ca_per_subscription' }] } });
    // An id-named CA certifies the subscription of its id: naming it again is the same clash.
    await createRootCa({ dataDir: w.dir, se: w.infra, id: 'sub-b', kind: 'p256', now: w.clock.now(), random: w.random });
    await expect(
      requestIntermediateCa({ dataDir: w.dir, se: w.infra, id: 'sub-b-ca', subscription: M2MSubId.parse('sub-b'), kind: 'p256', now: w.clock.now(), random: w.random }),
    ).rejects.toThrow(/CA sub-b already certifies M2M Service Subscription sub-b/);

    // A file edited by hand to name Sub-A too: the service does not start on it.
    const path = join(w.dir, 'pki', 'sub-b.ca.json');
    writeFileSync(path, JSON.stringify({ ...(JSON.parse(readFileSync(path, 'utf8')) as object), subscription: 'Sub-A' }));
    const loaded = loadIssuingCas(w.dir, w.infra);
    await expect(loaded).rejects.toMatchObject({
      problem: { code: 'validation', issues: [{ path: 'pki/sub-a-ca.ca.json, pki/sub-b.ca.json', rule: 'one_ca_per_subscription' }] },
    });
    await expect(loaded).rejects.toThrow(/CAs sub-a-ca and sub-b both certify M2M Service Subscription Sub-A/);
  }, 60_000);

  it('loads a CA file written before CAs named a subscription: it certifies the subscription of its id', async () => {
    const w = await world('older');
    closing.push(() => rmSync(w.dir, { recursive: true, force: true }), () => w.infraSe.close());
    await createRootCa({ dataDir: w.dir, se: w.infra, id: 'sub-1', kind: 'p256', now: w.clock.now(), random: w.random });
    const file = JSON.parse(readFileSync(join(w.dir, 'pki', 'sub-1.ca.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(file).sort()).toEqual(['certificate', 'chain', 'createdAt', 'id', 'keyHandle', 'keyKind', 'state', 'version']);
    const cas = await loadIssuingCas(w.dir, w.infra);
    expect(cas.find((ca) => ca.id === 'sub-1')?.subscription).toBeUndefined();
    expect(issuingCaFor(cas, 'sub-1')?.id).toBe('sub-1');
  }, 60_000);

  it('createRootCa returns the CA with the subscription it names, as the load gives it (review 357)', async () => {
    const w = await world('returned');
    closing.push(() => rmSync(w.dir, { recursive: true, force: true }), () => w.infraSe.close());
    const made = await createRootCa({ dataDir: w.dir, se: w.infra, id: 'sub-a-ca', subscription: SUB_A, kind: 'p256', now: w.clock.now(), random: w.random });
    expect(made.subscription).toBe('Sub-A');
    expect((await loadIssuingCas(w.dir, w.infra)).find((ca) => ca.id === 'sub-a-ca')?.subscription).toBe('Sub-A');
  }, 60_000);

  it('refuses at load a file of CA default edited to name a subscription, naming the file, as ca init refuses it (review 357)', async () => {
    const w = await world('default-named');
    closing.push(() => rmSync(w.dir, { recursive: true, force: true }), () => w.infraSe.close());
    const path = join(w.dir, 'pki', 'default.ca.json');
    writeFileSync(path, JSON.stringify({ ...(JSON.parse(readFileSync(path, 'utf8')) as object), subscription: 'Sub-B' }));
    const loaded = loadIssuingCas(w.dir, w.infra);
    await expect(loaded).rejects.toMatchObject({ problem: { code: 'validation', issues: [{ path: `${path}: subscription`, rule: 'not_default' }] } });
    await expect(loaded).rejects.toThrow(/CA default certifies the nodes no other CA does/);
  }, 60_000);

  it('credence ca init: --subscription names it, ca show prints it; --id Sub-A is refused pointing at --subscription', async () => {
    const data = join(folder(), 'data');
    const upper = await runCli(['ca', 'init', '--id', 'Sub-A', '--data', data], {});
    expect(upper.code).toBe(2);
    expect(upper.err).toContain('--id <lowercase-id> --subscription Sub-A');

    const made = await runCli(['ca', 'init', '--id', 'sub-a-ca', '--subscription', 'Sub-A', '--data', data], {});
    expect(made.code, made.err).toBe(0);
    expect(made.out).toContain('M2M Service Subscription Sub-A');
    const shown = await runCli(['ca', 'show', '--json', '--data', data], {});
    expect((JSON.parse(shown.out) as { cas: { id: string; subscription?: string }[] }).cas).toMatchObject([{ id: 'sub-a-ca', subscription: 'Sub-A' }]);
    expect((await runCli(['ca', 'show', '--data', data], {})).out).toContain('certifies the nodes of M2M Service Subscription Sub-A');

    const twice = await runCli(['ca', 'init', '--id', 'sub-a-two', '--subscription', 'Sub-A', '--data', data], {});
    expect(twice.code).toBe(1);
    expect(twice.err).toContain('CA sub-a-ca already certifies M2M Service Subscription Sub-A');
    const badSubscription = await runCli(['ca', 'init', '--id', 'x', '--subscription', 'a b', '--data', data], {});
    expect(badSubscription.code).toBe(2);
    expect(badSubscription.err).toContain('M2M-Sub-ID must be');
    const onDefault = await runCli(['ca', 'init', '--subscription', 'Sub-B', '--data', data], {});
    expect(onDefault.code).toBe(2);
  }, 120_000);
});
