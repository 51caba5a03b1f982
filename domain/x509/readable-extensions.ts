import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { ParsedCertificate } from './certificate.ts';
import { PROCESSED_EXTENSIONS } from './profile.ts';
import { certificateRejected } from './rejection.ts';

/**
 * The universal type of the extension values pkijs does not parse itself (it hands back the bare ASN.1 value):
 * SubjectKeyIdentifier is an OCTET STRING (4.2.1.2), KeyUsage a BIT STRING (4.2.1.3), InhibitAnyPolicy a SkipCerts
 * INTEGER (4.2.1.14).
 */
const BARE_VALUE: ReadonlyMap<string, (value: unknown) => boolean> = new Map([
  ['2.5.29.14', (v: unknown) => v instanceof asn1js.OctetString && !v.idBlock.isConstructed],
  ['2.5.29.15', (v: unknown) => v instanceof asn1js.BitString && !v.idBlock.isConstructed],
  ['2.5.29.54', (v: unknown) => v instanceof asn1js.Integer && !v.valueBlock.isHexOnly && v.valueBlock.valueDec >= 0],
]);

/** Why an extension value cannot be read, or undefined when it reads as its syntax. */
const unreadable = (e: pkijs.Extension): string | undefined => {
  const content = e.extnValue.valueBlock.valueHexView;
  const asn = asn1js.fromBER(content);
  if (asn.offset === -1 || asn.offset !== content.byteLength) return 'not one ASN.1 value';
  const bare = BARE_VALUE.get(e.extnID);
  if (bare !== undefined) return bare(asn.result) ? undefined : 'not its ASN.1 type';
  // pkijs catches its own parse error and hands back an empty object (no subtrees, no policies, no names) that
  // only its `parsingError` tells apart from a real empty value (ExtensionValueFactory.fromBER).
  const parsed = e.parsedValue as { parsingError?: string } | undefined;
  if (parsed === undefined || parsed.parsingError !== undefined) return 'not its ASN.1 type';
  return undefined;
};

/**
 * Every extension whose semantics path validation reads (PROCESSED_EXTENSIONS: basic constraints, key usage, name
 * constraints, policies, policy mappings and constraints, inhibitAnyPolicy, names, key identifiers) must be readable,
 * critical or not: an unreadable value is not an absent one. A critical extension that cannot be processed fails the
 * path (RFC 5280 4.2, 6.1.4 (o)); a non-critical one that the rules read would otherwise be read as "no constraint"
 * (an unreadable nameConstraints as no subtrees, 6.1.4 (g); policyConstraints as no explicit policy, 6.1.4 (i)).
 * Other non-critical extensions may be ignored (4.2) and are, except that one @peculiar/x509 cannot parse is refused
 * here as a typed rejection instead of the untyped error it would throw at the first extension read.
 */
export const checkExtensionsReadable = (c: ParsedCertificate): void => {
  for (const e of c.pki.extensions ?? []) {
    if (!PROCESSED_EXTENSIONS.has(e.extnID)) continue;
    const why = unreadable(e);
    if (why !== undefined) throw certificateRejected('malformed_certificate', `${c.cert.subject}: extension ${e.extnID}${e.critical ? ' (critical)' : ''} ${why}`);
  }
  // @peculiar/x509 parses every extension type it knows at the first getExtension and throws on one it cannot parse.
  try {
    void c.cert.extensions;
  } catch {
    throw certificateRejected('malformed_certificate', `${c.cert.subject}: an extension is not its ASN.1 type`);
  }
};
