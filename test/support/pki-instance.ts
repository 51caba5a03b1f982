import { rmSync } from 'node:fs';
import * as pkijs from 'pkijs';
import {
  openCredence,
  openDataFolderSecureEnvironment,
  startPkiRevocation,
  systemClock,
  systemRandom,
  type Credence,
  type PkiRevocation,
  type PkiRevocationOptions,
} from '../../adapters/runtime/index.ts';
import { ownerView } from '../../domain/ports/index.ts';
import type { IssuingCa } from '../../domain/x509/issuing-ca.ts';
import { openCommittedReadModel } from '../../adapters/runtime/pki-committed.ts';
import { OcspResponder } from '../../adapters/runtime/pki-ocsp-responder.ts';
import { PublishedLedger, type FailuresEnded } from '../../adapters/runtime/pki-published.ts';
import { memoryPublishedRevocations } from '../../adapters/driven/pki/published-revocations.ts';
import { testResponder } from './pki-test-ca.ts';
import { cmd, operator } from './fleet.ts';

/** The base URL the library-level PKI tests name in their certificates (nothing listens there). */
export const PKI_TEST_URL = 'http://127.0.0.1:9';

/**
 * A data folder's Secure Environment, and how the library-level PKI tests open Credence on the folder and start its
 * CRLs and OCSP for one CA.
 */
export const dataFolderPki = (dir: string) => {
  const se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
  return {
    se,
    open: (): Credence => openCredence({ location: { dir }, clock: systemClock, security: { se, random: systemRandom, actor: operator } }),
    start: (credence: Credence, ca: IssuingCa, more: Partial<PkiRevocationOptions> = {}): Promise<PkiRevocation> =>
      startPkiRevocation({
        credence,
        cas: [ca],
        baseUrl: PKI_TEST_URL,
        dataDir: dir,
        se: ownerView(se, 'maf:infrastructure'),
        random: systemRandom,
        now: () => Date.now(),
        ...more,
      }),
  };
};

/** The serial numbers a CRL lists, as lowercase hex, sorted. */
export const serialsOf = (der: Uint8Array): string[] =>
  (pkijs.CertificateRevocationList.fromBER(Uint8Array.from(der)).revokedCertificates ?? []).map((r) => Buffer.from(r.userCertificate.valueBlock.valueHexView).toString('hex')).sort();

/** A CRL's entry for the certificate `serialNumber` (lowercase hex). */
const crlEntryOf = (der: Uint8Array, serialNumber: string) =>
  (pkijs.CertificateRevocationList.fromBER(Uint8Array.from(der)).revokedCertificates ?? []).find(
    (r) => Buffer.from(r.userCertificate.valueBlock.valueHexView).toString('hex') === serialNumber,
  );

/** When a CRL says the certificate `serialNumber` (lowercase hex) was revoked, epoch ms; undefined when not listed. */
export const revocationDateOf = (der: Uint8Array, serialNumber: string): number | undefined =>
  crlEntryOf(der, serialNumber)?.revocationDate.value.getTime();

/** The reasonCode a CRL gives the entry of `serialNumber` (RFC 5280 5.3.1), by name; `unspecified` when it has none. */
export const crlReasonOf = (der: Uint8Array, serialNumber: string): string | undefined => {
  const entry = crlEntryOf(der, serialNumber);
  if (entry === undefined) return undefined;
  const reason = entry.crlEntryExtensions?.extensions.find((e) => e.extnID === '2.5.29.21');
  const code = reason === undefined ? 0 : (reason.parsedValue as { valueBlock: { valueDec: number } }).valueBlock.valueDec;
  return ['unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold'][code];
};

/** The CRL number (2.5.29.20), or with `base` a delta's BaseCRLNumber (2.5.29.27). */
export const crlNumberOf = (der: Uint8Array, base = false): number =>
  // toBigInt: asn1js's valueDec is 0 past four bytes, and CRL numbers follow the clock (crl-numbers.ts).
  Number(
    (pkijs.CertificateRevocationList.fromBER(Uint8Array.from(der)).crlExtensions!.extensions.find((e) => e.extnID === (base ? '2.5.29.27' : '2.5.29.20'))!.parsedValue as {
      toBigInt(): bigint;
    }).toBigInt(),
  );

/**
 * Revokes each credential through the engine (as the operator), in order, then waits until the instance handled
 * them and the default CA's CRL publisher has settled.
 */
export const revokeAndSettleOn = async (
  credence: Pick<Credence, 'engine' | 'settle'>,
  pki: PkiRevocation,
  revocations: readonly (readonly [credentialId: string, reason: string])[],
): Promise<void> => {
  for (const [credentialId, reason] of revocations) await credence.engine.execute(cmd.revokeCredential(credentialId, reason));
  await credence.settle();
  await pki.crl('default')!.settled();
};

/**
 * What a PKI test opened in its beforeAll, closed in order: the publisher stopped, the instance and its Secure
 * Environment closed, the data folder (and OpenSSL's, if any) removed. The ones beforeAll did not reach are skipped.
 */
export const closePkiInstance = async (opened: {
  readonly pki: Pick<PkiRevocation, 'stop'> | undefined;
  readonly credence: Pick<Credence, 'close'> | undefined;
  readonly se: { close(): void } | undefined;
  readonly dir: string;
  readonly files?: { remove(): void };
}): Promise<void> => {
  try {
    opened.pki?.stop();
    await opened.credence?.close();
    opened.se?.close();
  } finally {
    // Also when a close throws: the data folder (key material among it) is not left in the temporary folder.
    rmSync(opened.dir, { recursive: true, force: true });
    opened.files?.remove();
  }
};

/** An OCSP responder of `ca` over the instance's committed `pki` read model, with `ledger` as what the CA published. */
export const ocspResponderOver = async (
  credence: Credence,
  ca: IssuingCa,
  ledger: PublishedLedger,
  o: { now?: () => number; errors?: unknown[]; recovered?: FailuresEnded[] } = {},
) => {
  const reads = openCommittedReadModel(credence.readModels);
  const credential = await testResponder(ca);
  const responder = new OcspResponder({
    reads,
    ca,
    published: ledger,
    credential: () => credential,
    now: o.now ?? (() => Date.now()),
    onError: (error) => o.errors?.push(error),
    onRecovered: (ended) => o.recovered?.push(ended),
  });
  return { responder, close: () => reads.close() };
};

/** A ledger whose appends fail as on a full disk until `heal()`: what a CA published cannot be recorded meanwhile. */
export const ledgerOnAFullDisk = (): { readonly ledger: PublishedLedger; readonly heal: () => void } => {
  let full = true;
  const store = memoryPublishedRevocations();
  const ledger = new PublishedLedger({
    ...store,
    append: (records) => {
      if (full) throw new Error('ENOSPC: no space left on device');
      store.append(records);
    },
  });
  return { ledger, heal: () => void (full = false) };
};
