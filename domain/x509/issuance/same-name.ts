import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { constantTimeEqual } from '../../crypto/bytes.ts';

/**
 * A value as RFC 5280 7.1 compares it (RFC 4518 string preparation, as far as relying parties that canonicalise
 * apply it, OpenSSL's X509_NAME_cmp among them): compatibility forms folded, case ignored, leading and trailing
 * spaces dropped and inner runs of spaces made one. The rule a node's subject is held to against its issuer's
 * (node-certificate.ts), and a CA's against its folder's other CAs (adapters/driven/pki/distinct-subject.ts).
 */
const prepared = (value: string): string => value.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();

/** A Name as compared: its RDNs in order, each the sorted set of its attributes' types and prepared values. */
const comparable = (name: Uint8Array): string =>
  JSON.stringify(
    new x509.Name(Uint8Array.from(name)).toJSON().map((rdn) => Object.entries(rdn).flatMap(([type, values]) => values.map((v) => `${type}=${prepared(v)}`)).sort()),
  );

/** Two DER Names are one name: equal as encoded, or equal as RFC 5280 7.1 compares them. */
export const sameName = (a: Uint8Array, b: Uint8Array): boolean => (a.length === b.length && constantTimeEqual(a, b)) || comparable(a) === comparable(b);
