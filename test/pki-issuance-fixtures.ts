import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { Device } from '../adapters/protocols/procedures/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { at, operator, profile, T0 } from './support/fleet.ts';
import type { CaKeyKind, IssuingCa } from '../domain/x509/issuing-ca.ts';
import { memorySecureEnvironment, seededRandom } from './crypto-fixtures.ts';

/**
 * Shared by the issuance tests (issue 13): a data folder with a root CA made by `createRootCa`, its key in an
 * in-memory Secure Environment as the infrastructure owner sees it.
 */
export const rootCaWorld = async (kind: CaKeyKind, now: () => Date, options: { id?: string; subject?: string; validityDays?: number } = {}) => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-ca-'));
  const se = memorySecureEnvironment(`ca-${kind}`, now);
  const infra = ownerView(se, 'maf:infrastructure');
  const random = seededRandom(`ca-${kind}/random`);
  const ca: IssuingCa = await createRootCa({
    dataDir: dir, se: infra, id: options.id ?? 'default', kind, now: now(), random,
    ...(options.subject !== undefined ? { subject: options.subject } : {}),
    ...(options.validityDays !== undefined ? { validityDays: options.validityDays } : {}),
  });
  return {
    dir, se, infra, random, ca,
    close() {
      se.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

/** `openssl verify -attime` takes seconds since the epoch: the tests' clocks are not the machine's. */
export const epochSeconds = (at: Date | string): string => String(Math.floor(new Date(at).getTime() / 1000));

/**
 * A deployment with an issuing CA wired into the Enrolment Function (openCredence `security.pki`), the engine on a
 * file store, and devices with their own Secure Environments: the remote provisioning of issue 13 end to end.
 */
export const pkiWorld = async (caKind: CaKeyKind, options: { requireCsr?: boolean; cas?: 'none' } = {}) => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-pki-'));
  const clock = new FakeClock(T0);
  const random = seededRandom(`pki-${caKind}/random`);
  const infraSe = memorySecureEnvironment(`pki-${caKind}/infra`, () => clock.now());
  const infra = ownerView(infraSe, 'maf:infrastructure');
  const ca = await createRootCa({ dataDir: dir, se: infra, id: 'default', kind: caKind, now: clock.now(), random });
  const credence = openCredence({
    location: { dir },
    clock,
    security: {
      se: infraSe, random, actor: operator,
      pki: { cas: options.cas === 'none' ? [] : [ca], baseUrl: 'https://credence.example', ...(options.requireCsr !== undefined ? { requireCsr: options.requireCsr } : {}) },
    },
  });
  const { infrastructure, procedures } = await credence.security();
  const deviceSes: { close(): void }[] = [];
  const device = (nodeId: string) => {
    const se = memorySecureEnvironment(`pki-${caKind}/${nodeId}`, () => clock.now());
    deviceSes.push(se);
    return new Device({ nodeId, se, now: () => clock.now(), random: seededRandom(`pki-${caKind}/${nodeId}/protocol`) });
  };
  await credence.engine.execute({
    type: 'createSubscription',
    data: { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: T0, notAfter: at(2 * 365) },
    metadata: { actor: operator },
  });
  /** Factory registration with a bootstrap key, and enrolment under sub-1 with a CSE-ID. */
  const registered = async (nodeId: string, bootstrap: 'ed25519' | 'p256' | 'psk256' = 'ed25519') => {
    const d = device(nodeId);
    await procedures.preProvision({ device: d, profile, bootstrapCredentialId: `${nodeId}-boot`, kind: bootstrap, validity: { notBefore: T0, notAfter: at(5 * 365) } });
    await credence.engine.execute({ type: 'enrolNode', data: { nodeId, subscriptionId: 'sub-1', cseId: `/${nodeId}-cse` }, metadata: { actor: operator } });
    return d;
  };
  const issued = async (credentialId: string) => {
    const events = (await credence.engine.entity('credential', credentialId)).events;
    const event = events.find((e) => e.event.type === 'CredentialIssued')?.event;
    if (event?.type !== 'CredentialIssued') throw new Error(`no CredentialIssued for ${credentialId}`);
    return event.data;
  };
  return {
    dir, clock, credence, infrastructure, procedures, infraSe, ca, device, registered, issued,
    async close() {
      await credence.close();
      infraSe.close();
      for (const se of deviceSes) se.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
