import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll } from 'vitest';
import { FakeClock } from '../../adapters/driven/clock/index.ts';
import { createRootCa } from '../../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment, systemRandom, type Credence } from '../../adapters/runtime/index.ts';
import { command } from '../../domain/commands/index.ts';
import { ownerView } from '../../domain/ports/index.ts';
import type { IssuingCa } from '../../domain/x509/issuing-ca.ts';
import { issueCredentialData, operator, profile } from './fleet.ts';
import { ocspRequest, ocspRevokedAt } from './ocsp-client.ts';
import { certifiedCredentialData, issueCertifiedCredentialWith, pkiOf, testLeaf, type TestLeaf } from './pki-test-ca.ts';
import { startTestService, type TestService } from './service.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A p256 root CA `default` in data folder `dir`, made by `credence ca init`'s code at `clock`'s now. */
export const rootCaInDataFolder = async (dir: string, clock: FakeClock): Promise<void> => {
  const se = openDataFolderSecureEnvironment(dir, { now: () => clock.now() });
  try {
    await createRootCa({ dataDir: dir, se: ownerView(se, 'maf:infrastructure'), id: 'default', kind: 'p256', now: clock.now(), random: systemRandom });
  } finally {
    se.close();
  }
};

/** Waits (up to 30 s, polling every 100 ms) until `done`; throws naming `what` otherwise. */
export const waitUntil = async (what: string, done: () => Promise<boolean>): Promise<void> => {
  const deadline = Date.now() + 30_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

/** The revocationDate of `serial` (lowercase hex) on the CRL `der`, epoch ms; undefined when it is not listed. */
export const crlRevocationDate = (der: Uint8Array, serial: string): number | undefined => {
  const crl = pkijs.CertificateRevocationList.fromBER(Uint8Array.from(der));
  const entry = (crl.revokedCertificates ?? []).find((r) => Buffer.from(r.userCertificate.valueBlock.valueHexView).toString('hex') === serial);
  return entry?.revocationDate.value.getTime();
};

/** The body of `svc`'s GET `path` once it lists `serial` (the `pki` projection and the publisher catch up). */
export const crlListing = async (svc: TestService, path: 'crl' | 'delta-crl', serial: string): Promise<Uint8Array> => {
  let der = new Uint8Array();
  await waitUntil(`the ${path} lists ${serial}`, async () => {
    der = new Uint8Array(await (await fetch(`${svc.url}/pki/default/${path}`)).arrayBuffer());
    return crlRevocationDate(der, serial) !== undefined;
  });
  return der;
};

/** The revocationTime `svc`'s OCSP responder answers for `leaf`, epoch ms; undefined when it does not say revoked. */
export const ocspRevocationTime = async (svc: TestService, leaf: TestLeaf): Promise<number | undefined> => {
  const answer = await fetch(`${svc.url}/pki/default/ocsp`, {
    method: 'POST',
    headers: { 'content-type': 'application/ocsp-request' },
    body: Buffer.from(await ocspRequest(leaf, pkiOf(svc).cas[0]!)),
  });
  return ocspRevokedAt(new Uint8Array(await answer.arrayBuffer()));
};

/**
 * A service on `dir` (a root CA made at `clock`'s now) where cred-1, certified by that CA, rotates onto cred-2, both
 * provisioned, the overlap ending at `overlapEndsAt`; then `clock` set to `tickAt`, when the scheduler first ticks,
 * and waited on until it revoked cred-1: a handover recorded late (review 171). The service, and cred-1's certificate.
 */
export const rotationHandedOverLate = async (dir: string, clock: FakeClock, overlapEndsAt: number, tickAt: number): Promise<{ svc: TestService; leaf: TestLeaf }> => {
  const start = clock.now().getTime();
  await rootCaInDataFolder(dir, clock);
  const svc = await startTestService({ dir, clock });
  try {
    const { credence } = svc.service.context;
    const leaf = await issueCertifiedCredentialWith(credence, pkiOf(svc).cas[0]!, svc.url, 'cred-1');
    const successor = issueCredentialData('cred-2', 'meter-1', { notBefore: new Date(start - HOUR).toISOString(), notAfter: new Date(start + 20 * DAY).toISOString() });
    for (const c of [
      command('provisionCredential', { credentialId: 'cred-1', method: 'pre-provisioning' }, { actor: operator }),
      command('issueCredential', { ...successor, predecessorId: 'cred-1' }, { actor: operator }),
      command('provisionCredential', { credentialId: 'cred-2', method: 'pre-provisioning' }, { actor: operator }),
      command('startCredentialRotation', { credentialId: 'cred-1', successorId: 'cred-2', overlapEndsAt: new Date(overlapEndsAt).toISOString() }, { actor: operator }),
    ]) {
      await credence.engine.execute(c);
    }
    clock.set(new Date(tickAt));
    await waitUntil('the scheduler ended the overlap', async () => String((await credence.engine.entity('credential', 'cred-1')).snapshot.value) === 'revoked');
    return { svc, leaf };
  } catch (error) {
    await svc.close();
    throw error;
  }
};

/** Records `credentialId` of `nodeId`, registered and enrolled under `subscriptionId`, on a certificate of the CA. */
export type Certify = (credentialId: string, nodeId: string, subscriptionId: string) => Promise<TestLeaf>;

/**
 * A service on `dir` (a root CA made at `clock`'s now) given what `given` records, then down while a subscription
 * lapses and started again at `restartAt`, waited on until the cascade revoked cred-lapsed (review 191): the service.
 * `certify` makes each certificate at the first start's now, for 30 days.
 */
export const restartedAfterALapse = async (
  dir: string,
  clock: FakeClock,
  restartAt: number,
  given: (credence: Pick<Credence, 'engine'>, certify: Certify) => Promise<void>,
): Promise<TestService> => {
  const now = clock.now().getTime();
  await rootCaInDataFolder(dir, clock);
  const before = await startTestService({ dir, clock });
  try {
    const { credence } = before.service.context;
    const ca = pkiOf(before).cas[0]!;
    await given(credence, (credentialId, nodeId, subscriptionId) => certifiedNodeCredential(credence, ca, { baseUrl: before.url, now }, { credentialId, nodeId, subscriptionId }));
  } finally {
    await before.close();
  }
  clock.set(new Date(restartAt));
  const svc = await startTestService({ dir, clock });
  try {
    const { credence } = svc.service.context;
    await waitUntil('the cascade revoked cred-lapsed', async () => String((await credence.engine.entity('credential', 'cred-lapsed')).snapshot.value) === 'revoked');
    return svc;
  } catch (error) {
    await svc.close();
    throw error;
  }
};

/**
 * `nodeId` registered and enrolled under `subscriptionId`, holding `credentialId` on a certificate of `ca` (CDP and AIA
 * at `baseUrl`) made at `now` for 30 days, recorded through the engine: the certificate.
 */
const certifiedNodeCredential = async (
  credence: Pick<Credence, 'engine'>,
  ca: IssuingCa,
  at: { readonly baseUrl: string; readonly now: number },
  ids: { readonly credentialId: string; readonly nodeId: string; readonly subscriptionId: string },
): Promise<TestLeaf> => {
  const { credentialId, nodeId, subscriptionId } = ids;
  await credence.engine.execute(command('registerNode', { nodeId, profile }, { actor: operator }));
  const leaf = await testLeaf(ca, { baseUrl: at.baseUrl, name: nodeId, now: at.now });
  // The credential's window [notBefore, notAfter) ends a second after the certificate's inclusive notAfter.
  const data = { ...certifiedCredentialData(credentialId, leaf.der, ca.id), owner: { kind: 'node', id: nodeId } };
  // Issued before the enrolment: the 30 days outlast a subscription ending at +1 day, which issuing to an enrolled
  // node refuses (endsWithinSubscription, review 205); what is dated here is the lapse's revocation of one that does.
  await credence.engine.execute(command('issueCredential', data, { actor: operator }));
  await credence.engine.execute(command('enrolNode', { nodeId, subscriptionId, cseId: `/cse-${nodeId}` }, { actor: operator }));
  return leaf;
};

/**
 * The suite-wide scene of a describe block: a predecessor certified by the CA whose overlap ends at +2 h, handed over
 * by a scheduler that first ticks at +26 h (rotationHandedOverLate), in a folder of its own removed after the suite.
 * The service and the leaf are read once the suite's beforeAll has run.
 */
export const useRotationHandedOverLate = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const start = Math.floor(Date.now() / 1000) * 1000;
  const clock = new FakeClock(new Date(start));
  const scene = { dir, start, clock, overlapEndsAt: start + 2 * HOUR, tickAt: start + 26 * HOUR } as const;
  let made: { svc: TestService; leaf: TestLeaf } | undefined;
  beforeAll(async () => {
    made = await rotationHandedOverLate(dir, clock, scene.overlapEndsAt, scene.tickAt);
  }, 60_000);
  afterAll(async () => {
    await made?.svc.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    ...scene,
    get svc(): TestService {
      return made!.svc;
    },
    get leaf(): TestLeaf {
      return made!.leaf;
    },
  };
};

/**
 * The suite-wide scene of a describe block: a subscription ending at +1 day lapses while the service is down, which
 * starts again at +10 days (restartedAfterALapse), `given` (with the scene's times) recorded at the first start, in a
 * folder of its own removed after the suite. The service is read once the suite's beforeAll has run.
 */
export const useRestartedAfterALapse = (
  prefix: string,
  given: (credence: Pick<Credence, 'engine'>, certify: Certify, at: { readonly start: number; readonly subscriptionEndsAt: number }) => Promise<void>,
) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const start = Math.floor(Date.now() / 1000) * 1000;
  const clock = new FakeClock(new Date(start));
  const scene = { dir, start, clock, subscriptionEndsAt: start + DAY, restartAt: start + 10 * DAY } as const;
  let svc: TestService | undefined;
  beforeAll(async () => {
    svc = await restartedAfterALapse(dir, clock, scene.restartAt, (credence, certify) => given(credence, certify, scene));
  }, 90_000);
  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    ...scene,
    get svc(): TestService {
      return svc!;
    },
  };
};
