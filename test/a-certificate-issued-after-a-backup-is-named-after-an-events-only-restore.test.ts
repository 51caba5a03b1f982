import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { Device } from '../adapters/protocols/procedures/index.ts';
import { openCredence, startPkiRevocation, systemRandom, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { memorySecureEnvironment, seededRandom } from './crypto-fixtures.ts';
import { at, operator, profile, T0 } from './support/fleet.ts';
import { copyEventStore, moveTransparencyLogAside } from './support/restored-folder.ts';
import { serialsOf } from './support/pki-instance.ts';

/*
 * Review 247: an events.db restored from an older backup lacks the credentials provisioned since, and nothing named
 * their certificates: OCSP answered `unknown`, no CRL could ever list them (no credential to revoke), and CRL-only
 * relying parties accepted them until they expired, without a word at start. Now each CA journals every certificate
 * before it is recorded and handed over (`<data>/pki/<ca>.issued.jsonl`), the start names those the log lacks, and
 * the journal line's `issue` recorded again (what `credence command issueCredential --data @FILE` sends) makes the
 * credential revocable, its certificate then on the CRL.
 */

const BASE_URL = 'https://credence.example';

describe('a certificate issued after a backup, after an events-only restore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-issued-'));
  const backup = mkdtempSync(join(tmpdir(), 'credence-issued-backup-'));
  const clock = new FakeClock(T0);
  const infraSe = memorySecureEnvironment('issued/infra', () => clock.now());
  const infra = ownerView(infraSe, 'maf:infrastructure');
  const ses: { close(): void }[] = [infraSe];
  let ca: IssuingCa;
  let credence: Credence | undefined;
  let opens = 0;
  const open = (): Credence =>
    (credence = openCredence({
      location: { dir },
      clock,
      security: { se: infraSe, random: seededRandom(`issued/random/${++opens}`), actor: operator, pki: { cas: [ca], baseUrl: BASE_URL } },
    }));
  const close = async (): Promise<void> => {
    await credence?.close();
    credence = undefined;
  };
  const devices = new Map<string, Device>();
  const device = (nodeId: string): Device => {
    let d = devices.get(nodeId);
    if (d === undefined) {
      const se = memorySecureEnvironment(`issued/${nodeId}`, () => clock.now());
      ses.push(se);
      d = new Device({ nodeId, se, now: () => clock.now(), random: seededRandom(`issued/${nodeId}/protocol`) });
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
  const errors: { component: string; error: unknown }[] = [];
  const journal = (): { serialNumber: string; credentialId: string; issue: Record<string, unknown> }[] =>
    readFileSync(join(dir, 'pki', 'default.issued.jsonl'), 'utf8')
      .split('\n')
      .slice(1)
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { serialNumber: string; credentialId: string; issue: Record<string, unknown> });
  const start = (c: Credence, reported: { count: number; credentialIds: string[]; serials: string[] }[]) =>
    startPkiRevocation({
      credence: c, cas: [ca], baseUrl: BASE_URL, dataDir: dir, se: infra, random: systemRandom, now: () => clock.now().getTime(),
      onError: (component, error) => errors.push({ component, error }),
      onIssuedNotInLog: (_caId, count, certificates) =>
        reported.push({ count, credentialIds: certificates.map((x) => x.credentialId), serials: certificates.map((x) => x.serialNumber) }),
    });

  afterAll(async () => {
    await close();
    for (const se of ses) se.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(backup, { recursive: true, force: true });
  });

  it('is named at start, and recorded again from its journal line it is revoked and listed on the CRL', async () => {
    ca = await createRootCa({ dataDir: dir, se: infra, id: 'default', kind: 'p256', now: clock.now(), random: seededRandom('issued/ca') });
    let c = open();
    const { procedures } = await c.security();
    await c.engine.execute(command('createSubscription', { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: T0, notAfter: at(2 * 365) }, { actor: operator }));
    for (const nodeId of ['meter-1', 'meter-2']) {
      await procedures.preProvision({ device: device(nodeId), profile, bootstrapCredentialId: `${nodeId}-boot`, kind: 'ed25519', validity: { notBefore: T0, notAfter: at(5 * 365) } });
      await c.engine.execute(command('enrolNode', { nodeId, subscriptionId: 'sub-1', cseId: `/${nodeId}-cse` }, { actor: operator }));
    }
    await provision(c, 'meter-1', 'meter-1-svc');
    await close();
    copyEventStore(dir, backup);

    // Provisioned after the backup: its certificate is out in the field, and the restore loses its credential.
    c = open();
    await provision(c, 'meter-2', 'meter-2-svc');
    const lost = await serialOf(c, 'meter-2-svc');
    expect(journal().map((r) => r.credentialId)).toEqual(['meter-1-svc', 'meter-2-svc']);
    await close();
    copyEventStore(backup, dir);
    moveTransparencyLogAside(dir, backup);

    c = open();
    const reported: { count: number; credentialIds: string[]; serials: string[] }[] = [];
    let pki = await start(c, reported);
    // The restored log's read model is rebuilt after the start: the first tick that finds it whole names them.
    await c.settle();
    await pki.tick();
    expect(errors).toEqual([]);
    expect(reported).toEqual([{ count: 1, credentialIds: ['meter-2-svc'], serials: [lost] }]);
    expect(serialsOf((await pki.crl('default')!.full()).der)).not.toContain(lost);

    // The remedy: the journal line's `issue` recorded again, then the credential revoked.
    const line = journal().find((r) => r.serialNumber === lost)!;
    await c.engine.execute(command('issueCredential', line.issue, { actor: operator }));
    await c.engine.execute(command('revokeCredential', { credentialId: 'meter-2-svc', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    expect(serialsOf((await pki.crl('default')!.full()).der)).toContain(lost);
    pki.stop();

    // Held by the log again: the next start says nothing.
    const again: typeof reported = [];
    pki = await start(c, again);
    await c.settle();
    await pki.tick();
    expect(again).toEqual([]);
    pki.stop();
  }, 60_000);

  it('refuses a run whose certificate cannot be journalled: nothing is recorded', async () => {
    const c = credence ?? open();
    // A directory where the journal would be: every append fails.
    rmSync(join(dir, 'pki', 'default.issued.jsonl'));
    mkdirSync(join(dir, 'pki', 'default.issued.jsonl'));
    const { procedures } = await c.security();
    await procedures.preProvision({ device: device('meter-3'), profile, bootstrapCredentialId: 'meter-3-boot', kind: 'ed25519', validity: { notBefore: T0, notAfter: at(5 * 365) } });
    await c.engine.execute(command('enrolNode', { nodeId: 'meter-3', subscriptionId: 'sub-1', cseId: '/meter-3-cse' }, { actor: operator }));
    await expect(provision(c, 'meter-3', 'meter-3-svc')).rejects.toThrow(/certificate_not_issued/);
    expect((await c.engine.entity('credential', 'meter-3-svc')).events).toEqual([]);
    await close();
  }, 60_000);
});
