import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { validationError } from '../../../domain/errors.ts';
import { constantTimeEqual } from '../../../domain/crypto/bytes.ts';
import { fromBase64url } from '../../../domain/crypto/base64url.ts';
import type { CaId } from '../../../domain/x509/issuing-ca.ts';
import { issuerOf, sameName } from '../../../domain/x509/issuance/index.ts';
import { caIds, readCaFile, type CaFile } from './ca-file.ts';

/**
 * Review 231: two CAs of one folder under one subject are two issuers of one name with different keys, and two sets
 * of CRLs under one issuer name; a client that finds an issuer or a CRL by name alone may take the wrong one. So a
 * CA's subject is distinct from every other CA's of its folder: a CA awaiting its certificate holds the subject of its
 * CSR, an active one that of its certificate.
 *
 * Review 419: and from every certificate above another CA (its chain, up to the external root): a root `ca init` made
 * under the name of an intermediate's external root, or an intermediate installed under an external root of a name a
 * CA of the folder has, put two anchors of one name and two keys in the trust bundle. A certificate the same as one
 * another CA holds (the same name and key: the same external root above two intermediates, or that root re-issued,
 * RFC 5280 6.1.1 (d)) is the same CA, and allowed.
 */

/** A name a CA file holds: its own subject (`chain` undefined) or that of its chain entry `chain`, with its key. */
interface HeldName {
  readonly name: Uint8Array;
  /** The certified key (SubjectPublicKeyInfo, DER); absent for the CSR subject of a CA awaiting its certificate. */
  readonly key?: Uint8Array;
  readonly chain?: number;
}

const keyOf = (der: Uint8Array): Uint8Array => new Uint8Array(new x509.X509Certificate(Uint8Array.from(der)).publicKey.rawData);

/** Every name a CA file holds: that of its CSR while it awaits its certificate, else its certificate's and its chain's. */
const namesHeld = (file: CaFile): HeldName[] => {
  if (file.state !== 'active') {
    return [{ name: new Uint8Array(new x509.Pkcs10CertificateRequest(Uint8Array.from(fromBase64url(file.csr))).subjectName.toArrayBuffer()) }];
  }
  const own = fromBase64url(file.certificate);
  return [
    { name: issuerOf(own).name, key: keyOf(own) },
    ...file.chain.map((entry, chain) => {
      const der = fromBase64url(entry);
      return { name: issuerOf(der).name, key: keyOf(der), chain };
    }),
  ];
};

const sameKey = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && constantTimeEqual(a, b);

/**
 * The first name another CA of `dataDir` holds that is `name` (as encoded, or equal by RFC 5280 7.1) under another key
 * than `key` (any, when `key` is undefined), with the CA holding it.
 */
const clash = (dataDir: string, id: CaId, name: Uint8Array, key: Uint8Array | undefined): { readonly other: CaId; readonly held: HeldName } | undefined => {
  for (const other of caIds(dataDir)) {
    if (other === id) continue;
    const file = readCaFile(dataDir, other);
    if (file === undefined) continue;
    const held = namesHeld(file).find((h) => sameName(h.name, name) && (key === undefined || h.key === undefined || !sameKey(h.key, key)));
    if (held !== undefined) return { other, held };
  }
  return undefined;
};

const whose = ({ other, held }: { readonly other: CaId; readonly held: HeldName }): string =>
  held.chain === undefined ? `CA ${other}'s subject` : `the subject of a certificate above CA ${other} (its chain[${held.chain}])`;

const refuse = (path: string, found: { readonly other: CaId; readonly held: HeldName }, why: string, remedy: string) =>
  validationError([{ path, rule: 'distinct_subject', message: `is ${whose(found)}${why}; ${remedy}` }], 'issuing CA');

const TWO_ISSUERS = ': two CAs of one name would be two issuers (and two sets of CRLs) that relying parties cannot tell apart';

/**
 * Refuses `name` (as encoded) for CA `id` when another CA of `dataDir` holds it, as its subject or that of a
 * certificate of its chain, as encoded or equal by RFC 5280 7.1: a `validation` refusal at `path`, rule
 * `distinct_subject`, naming that CA (never the value) and what to do (`remedy`). Called before anything is made or
 * written.
 */
export const assertSubjectUnused = (dataDir: string, id: CaId, name: Uint8Array, at: { readonly path: string; readonly remedy: string }): void => {
  const found = clash(dataDir, id, name, undefined);
  if (found !== undefined) throw refuse(at.path, found, TWO_ISSUERS, at.remedy);
};

/**
 * Refuses the chain `ca install` was given for CA `id` (`ordered`: the certificates of its path, each with its index
 * in `--chain`) when one of them has a name another CA of `dataDir` holds under another key: its subject while it
 * awaits its certificate, or a certificate of its or of its chain. The same certificate (name and key) as one another
 * CA holds is the same CA and allowed. A `validation` refusal at `chain[i]`, rule `distinct_subject`; nothing written.
 */
export const assertChainNamesUnused = (dataDir: string, id: CaId, ordered: readonly { readonly der: Uint8Array; readonly path: string }[]): void => {
  for (const { der, path } of ordered) {
    const found = clash(dataDir, id, issuerOf(der).name, keyOf(der));
    if (found === undefined) continue;
    throw refuse(
      path,
      found,
      ' with another key: relying parties would hold two CAs of one name they cannot tell apart (the trust bundle two anchors of one name)',
      `install CA ${id} under CAs whose names no other CA of this folder holds, or the same certificates as it`,
    );
  }
};
