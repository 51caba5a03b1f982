import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { validationError } from '../../../domain/errors.ts';
import { constantTimeEqual } from '../../../domain/crypto/bytes.ts';
import { fromBase64url, toBase64url } from '../../../domain/crypto/base64url.ts';
import type { OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import { destroyNewKey } from '../../../domain/ports/destroy-new-key.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import type { CaId, CaKeyKind, IssuingCa } from '../../../domain/x509/issuing-ca.ts';
import {
  buildCertificationRequest,
  certifiedPublicKey,
  issuerOf,
  MAX_COMMON_NAME,
  selfSignedCaCertificate,
  SERIAL_LENGTH,
  serialFromRandom,
} from '../../../domain/x509/issuance/index.ts';
import { parseDistinguishedName } from '../../../domain/x509/issuance/index.ts';
import { caExists, readCaFile, writeCaFile } from './ca-file.ts';
import { issuingCaOf, namingMissingCaKey } from './load.ts';
import { seSigner } from './se-signer.ts';
import { checkInstalledCa } from './install-checks.ts';
import { assertRenewedBySameIssuer, assertRenews, assertSameTrustAnchor } from './renew.ts';
import { assertChainNamesUnused, assertSubjectUnused } from './distinct-subject.ts';
import type { M2MSubId } from '../../../domain/ids.ts';
import { DEFAULT_CA_ID, type SubscriptionCa } from '../../../domain/x509/issuance/index.ts';
import { assertSubscriptionUnclaimed } from './one-ca-per-subscription.ts';

/** What `credence ca init` is given. */
export interface CaInitOptions {
  readonly dataDir: string;
  /** The infrastructure owner's view (`maf:infrastructure`) of the data folder's Secure Environment. */
  readonly se: OwnedSecureEnvironment;
  readonly id: CaId;
  /**
   * The M2M Service Subscription whose nodes it certifies (`--subscription`, review 355), when the id does not spell
   * it; never for `default`, which certifies the nodes no other CA does.
   */
  readonly subscription?: M2MSubId | undefined;
  readonly kind: CaKeyKind;
  /** RFC 4514 distinguished name; default `defaultCaSubject(id)`. */
  readonly subject?: string | undefined;
  readonly now: Date;
  readonly random: RandomSource;
}

export const DEFAULT_CA_VALIDITY_DAYS = 3650;
export const MAX_CA_VALIDITY_DAYS = 36_500;
/**
 * `CN=Credence CA <id>` when that fits ub-common-name (ids of up to 52 characters, every CA made so far), else
 * `CN=Credence CA, OU=<id>` (review 351: ids run to 63 characters, so the CN could reach 75 and `ca init` refused a
 * subject the user never gave; an id always fits ub-organizational-unit-name, 64). Ids are lowercase letters, digits
 * and dashes, never leading, so neither needs RFC 4514 escaping.
 */
export const defaultCaSubject = (id: CaId): string => {
  const commonName = `Credence CA ${id}`;
  return commonName.length <= MAX_COMMON_NAME ? `CN=${commonName}` : `CN=Credence CA, OU=${id}`;
};

const DAY_MS = 86_400_000;
/** X.509 times are whole seconds. */
const wholeSeconds = (at: Date): Date => new Date(Math.floor(at.getTime() / 1000) * 1000);

/**
 * The CA's subject, or a `validation` refusal (path `subject`, rule `distinguished_name`) whose message names the
 * attribute and the rule it breaks, never the value: RFC 5280 4.1.2.4 and Appendix A via parseDistinguishedName.
 */
const subjectName = (text: string): Uint8Array => {
  const parsed = parseDistinguishedName(text);
  if (!parsed.ok) throw validationError([{ path: 'subject', rule: 'distinguished_name', message: `${parsed.message} [${parsed.rule}]` }], 'issuing CA');
  return parsed.der;
};

/**
 * Refuses before any key is made: an existing CA of that id, a subject that is no distinguished name, or one another
 * CA of the folder has (`distinct_subject`, review 231), or a subscription another CA certifies (review 355).
 */
const prepare = (o: CaInitOptions): { name: Uint8Array; subject: string } => {
  if (readCaFile(o.dataDir, o.id) !== undefined) throw caExists(o.dataDir, o.id);
  if (o.id === DEFAULT_CA_ID && o.subscription !== undefined) {
    throw validationError(
      [{ path: 'subscription', rule: 'not_default', message: `CA ${DEFAULT_CA_ID} certifies the nodes no other CA does: give the CA of subscription ${o.subscription} an --id of its own` }],
      'issuing CA',
    );
  }
  assertSubscriptionUnclaimed(o.dataDir, o.id, o.subscription);
  const subject = o.subject ?? defaultCaSubject(o.id);
  const name = subjectName(subject);
  assertSubjectUnused(o.dataDir, o.id, name, { path: 'subject', remedy: 'choose another --subject' });
  return { name, subject };
};

/**
 * Runs `use` with a new CA key; the key is destroyed when `use` fails, so a refused init leaves nothing behind. One
 * the Secure Environment will not destroy is named in what is thrown, with the refusal: no CA file names it, so
 * nothing else ever would (review 53).
 */
const withNewKey = async <T>(o: CaInitOptions, use: (handle: Awaited<ReturnType<OwnedSecureEnvironment['generate']>>) => Promise<T>): Promise<T> => {
  const handle = await o.se.generate(o.kind, { usage: 'sign' });
  try {
    return await use(handle);
  } catch (error) {
    throw await destroyNewKey(o.se, handle, error, `the key ${handle} made for CA ${o.id}`);
  }
};

/**
 * A self-signed root CA (issue 13): the key generated in the Secure Environment, the certificate signed through it,
 * valid from now (whole seconds) for `validityDays`.
 */
export const createRootCa = async (o: CaInitOptions & { readonly validityDays?: number }): Promise<SubscriptionCa> => {
  const days = o.validityDays ?? DEFAULT_CA_VALIDITY_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > MAX_CA_VALIDITY_DAYS) {
    throw validationError([{ path: 'validityDays', rule: 'range', message: `must be a whole number of days from 1 to ${MAX_CA_VALIDITY_DAYS}` }], 'issuing CA');
  }
  const { name } = prepare(o);
  return withNewKey(o, async (keyHandle) => {
    const signer = await seSigner(o.se, keyHandle, o.kind);
    const notBefore = wholeSeconds(o.now);
    const certificate = await selfSignedCaCertificate({
      name,
      signer,
      serial: serialFromRandom(o.random(SERIAL_LENGTH)),
      notBefore,
      notAfter: new Date(notBefore.getTime() + days * DAY_MS),
    });
    const file = {
      version: 1 as const,
      state: 'active' as const,
      id: o.id,
      subscription: o.subscription,
      keyKind: o.kind,
      keyHandle,
      createdAt: o.now.toISOString(),
      certificate: toBase64url(certificate),
      chain: [],
    };
    writeCaFile(o.dataDir, file, 'create');
    // The subscription it names, as loadIssuingCas would give it (review 357): a caller certifying or recording by
    // this CA sees the subscription its certificates record.
    return { id: o.id, ...(o.subscription !== undefined ? { subscription: o.subscription } : {}), certificate, chain: [], signer };
  });
};

/**
 * An intermediate CA whose certificate an external root signs: the key generated in the Secure Environment and a
 * PKCS#10 CSR for it (subject `subject`, signed through the Secure Environment), kept with the CA until
 * `installCaCertificate`.
 */
export const requestIntermediateCa = async (
  o: CaInitOptions & {
    /** Hands the CSR out (a file for the external root) before the CA file is written: if it fails, nothing is left. */
    readonly deliver?: (csr: Uint8Array) => void;
  },
): Promise<{ readonly csr: Uint8Array }> => {
  const { name, subject } = prepare(o);
  return withNewKey(o, async (keyHandle) => {
    const signer = await seSigner(o.se, keyHandle, o.kind);
    const csr = await buildCertificationRequest({ key: { kind: o.kind, bytes: signer.publicKey }, subject: name, uris: [], sign: signer.sign });
    o.deliver?.(csr);
    writeCaFile(
      o.dataDir,
      { version: 1, state: 'awaiting_certificate', id: o.id, subscription: o.subscription, keyKind: o.kind, keyHandle, createdAt: o.now.toISOString(), subject, csr: toBase64url(csr) },
      'create',
    );
    return { csr };
  });
};

const refuse = (path: string, rule: string, message: string) => validationError([{ path, rule, message }], 'CA certificate');

/**
 * Installs the certificate an external CA signed for an intermediate made by `requestIntermediateCa`, or its renewal
 * for an active CA (same subject and key identifier, a later end: `renewalRequest`), with the certificates above it
 * (`chain`: any order, up to and including the root). Checked before anything is written:
 * it certifies the CA's Secure Environment key, is a CA (basicConstraints cA, keyUsage keyCertSign and cRLSign), and
 * a certificate it issues validates up to the root by RFC 5280 path validation at `now` (install-checks.ts).
 */
export const installCaCertificate = async (o: {
  readonly dataDir: string;
  readonly se: OwnedSecureEnvironment;
  readonly id: CaId;
  readonly certificate: Uint8Array;
  readonly chain: readonly Uint8Array[];
  readonly now: Date;
  readonly random: RandomSource;
}): Promise<IssuingCa> => {
  const file = readCaFile(o.dataDir, o.id);
  if (file === undefined) throw refuse('caId', 'exists', `no CA ${o.id}: run credence ca init --intermediate first`);
  const certified = certifiedPublicKey(o.certificate);
  if (certified === undefined) throw refuse('certificate', 'certificate', 'not an X.509 certificate of an Ed25519 or P-256 key');
  // Review 364: a key gone from the Secure Environment is refused naming the CA and what to do, as at the start.
  const key = (await namingMissingCaKey(file, o.se.describe(file.keyHandle))).publicKey;
  if (certified.kind !== file.keyKind || key === undefined || !constantTimeEqual(certified.bytes, key)) {
    throw refuse('certificate', 'certifies_ca_key', `does not certify the key of CA ${o.id} (the key its CSR was made with)`);
  }
  // An active CA's certificate is replaced only by its renewal (renew.ts), so that what it issued still chains to it.
  if (file.state === 'active') {
    await assertRenewedBySameIssuer(file, o.certificate);
    assertRenews(fromBase64url(file.certificate), o.certificate, o.id, 'certificate');
  } else {
    // The external root may sign another subject than the CSR's: it must not be another CA's of the folder either,
    // nor that of a certificate above another CA (review 419).
    assertSubjectUnused(o.dataDir, o.id, issuerOf(o.certificate).name, { path: 'certificate', remedy: "have it signed with its CSR's subject" });
  }
  const chain = o.chain.map((der, i) => {
    try {
      new x509.X509Certificate(Uint8Array.from(der));
      return der;
    } catch {
      throw refuse(`chain[${i}]`, 'certificate', 'not an X.509 certificate');
    }
  });
  const signer = await namingMissingCaKey(file, seSigner(o.se, file.keyHandle, file.keyKind));
  const ordered = await checkInstalledCa({ id: o.id, certificate: o.certificate, chain, signer, now: o.now, random: o.random });
  if (file.state === 'active') assertSameTrustAnchor(file, ordered);
  // Review 419: no certificate above it may have a name another CA of the folder holds under another key.
  assertChainNamesUnused(o.dataDir, o.id, ordered.map((der) => ({ der, path: `chain[${o.chain.indexOf(der)}]` })));
  const active = {
    version: 1 as const,
    state: 'active' as const,
    id: o.id,
    // Installing a certificate keeps the subscription the CA was made for (review 355).
    subscription: file.subscription,
    keyKind: file.keyKind,
    keyHandle: file.keyHandle,
    createdAt: file.createdAt,
    certificate: toBase64url(o.certificate),
    chain: ordered.map((c) => toBase64url(c)),
  };
  writeCaFile(o.dataDir, active, 'replace');
  return issuingCaOf(active, o.se);
};
