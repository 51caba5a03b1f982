import * as pkijs from 'pkijs';
import type { FakeClock } from '../../adapters/driven/clock/index.ts';
import { createRootCa } from '../../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../../adapters/runtime/index.ts';
import { ownerView } from '../../domain/ports/index.ts';
import { ocspRequest, ocspRevokedAt } from './ocsp-client.ts';
import { pkiOf, type TestLeaf } from './pki-test-ca.ts';
import type { TestService } from './service.ts';

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
