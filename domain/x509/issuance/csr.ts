import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { publicKeyFromSpki } from '../../crypto/fingerprint.ts';
import { MAX_CSR_LENGTH } from '../../crypto/sizes.ts';
import { verifySignature } from '../../crypto/signatures.ts';
import { derViolation } from '../der-rules.ts';
import type { CaKeyKind } from '../issuing-ca.ts';
import { quotedCut } from '../quoted.ts';
import { subjectAltNameUris } from './extensions.ts';
import { nodeUris, type NodeNaming } from './node-names.ts';
import { compactEcdsaSignature, OID, pkiName, publicKeyInfo, signatureAlgorithm, SIGNATURE_ALGORITHM_OID } from './signed.ts';

/**
 * PKCS#10 certification requests (RFC 2986) in remote provisioning (issue 13): the node's request for an operational
 * certificate, signed with the key it generated (the proof of possession). Parsing and checking are pure and return
 * values: a refused CSR is an expected outcome, with a stable reason.
 */
export type CsrRejection =
  /** Not one DER CertificationRequest of version 1 (v1 = 0). */
  | 'malformed_csr'
  /** A key other than Ed25519 or P-256 (uncompressed): RSA, P-384, X25519, ...; an EC key's detail names its curve and point form. */
  | 'unsupported_key'
  /** A signature algorithm other than Ed25519 for an Ed25519 key or ecdsa-with-SHA256 for a P-256 key. */
  | 'unsupported_signature_algorithm'
  /** The signature does not verify with the key the CSR carries: no proof of possession. */
  | 'bad_csr_signature'
  /** The subject or a subject alternative name names something other than this node, or the CSR names nobody. */
  | 'subject_mismatch';

export interface CertificationRequest {
  readonly publicKey: { readonly kind: CaKeyKind; readonly bytes: Uint8Array };
  /** Every commonName of the subject. */
  readonly commonNames: readonly string[];
  /** Subject alternative names requested (extensionRequest), URIs as `uri:` text, anything else by its kind. */
  readonly altNames: readonly { readonly type: number; readonly value: string }[];
}

export type CsrCheck<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: CsrRejection; readonly detail: string };

const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const SUBJECT_ALT_NAME = '2.5.29.17';
const refuse = <T>(reason: CsrRejection, detail: string): CsrCheck<T> => ({ ok: false, reason, detail });
const bytesOf = (block: asn1js.AsnType): Uint8Array => new Uint8Array(block.valueBeforeDecodeView);

/**
 * Why an extension of an extensionRequest cannot be read, or undefined. Its value must be one DER value of its type
 * (RFC 5280 4.2: extnValue holds the DER encoding): pkijs catches its own parse error and hands back an empty value
 * with `parsingError` (an empty AltName reads as "no names"), and reads a prefix of a value with bytes after it.
 * A subjectAltName holds at least one name (4.2.1.6, GeneralNames SIZE (1..MAX)).
 */
const unreadableExtension = (e: pkijs.Extension): string | undefined => {
  const notDer = derViolation(e.extnValue.valueBlock.valueHexView);
  if (notDer !== undefined) return notDer;
  const parsed = e.parsedValue as { parsingError?: string } | undefined;
  if (parsed === undefined || parsed.parsingError !== undefined) return 'not its ASN.1 type';
  if (e.extnID === SUBJECT_ALT_NAME && !(parsed instanceof pkijs.AltName && parsed.altNames.length > 0)) return 'no name';
  return undefined;
};

/**
 * Every subjectAltName of every extensionRequest (a second attribute or value must not hide a foreign name), once
 * every requested extension was found readable: an unreadable subjectAltName is refused, never read as no names.
 */
const altNamesOf = (request: pkijs.CertificationRequest): CsrCheck<CertificationRequest['altNames']> => {
  const extensions = (request.attributes ?? [])
    .filter((a) => a.type === EXTENSION_REQUEST)
    .flatMap((a) => a.values.flatMap((value: asn1js.AsnType) => new pkijs.Extensions({ schema: value }).extensions));
  for (const e of extensions) {
    const why = unreadableExtension(e);
    if (why !== undefined) return refuse('malformed_csr', `requested extension ${quotedCut(e.extnID)}: ${why}`);
  }
  const names = extensions
    .filter((e) => e.extnID === SUBJECT_ALT_NAME)
    .flatMap((e) => (e.parsedValue as pkijs.AltName).altNames.map((n) => ({ type: n.type, value: typeof n.value === 'string' ? n.value : `(type ${n.type})` })));
  return { ok: true, value: names };
};

/** id-ecPublicKey (RFC 5480 2.1.1): the algorithm of every EC key, P-256 or not; the curve is its parameter. */
const EC_PUBLIC_KEY = '1.2.840.10045.2.1';

/** Named curves (RFC 5480 2.1.1.1, RFC 5639), by the names OpenSSL gives them: what a node's operator looks up. */
const CURVE_NAMES: Readonly<Record<string, string>> = {
  '1.2.840.10045.3.1.7': 'prime256v1',
  '1.3.132.0.34': 'secp384r1',
  '1.3.132.0.35': 'secp521r1',
  '1.3.132.0.33': 'secp224r1',
  '1.2.840.10045.3.1.1': 'prime192v1',
  '1.3.132.0.10': 'secp256k1',
  '1.3.36.3.3.2.8.1.1.7': 'brainpoolP256r1',
  '1.3.36.3.3.2.8.1.1.11': 'brainpoolP384r1',
  '1.3.36.3.3.2.8.1.1.13': 'brainpoolP512r1',
};

/** SEC 1 2.3.3: the first octet of an encoded point says its form. */
const POINT_FORMS: Readonly<Record<number, string>> = { 0x02: 'compressed', 0x03: 'compressed', 0x04: 'uncompressed', 0x06: 'hybrid', 0x07: 'hybrid' };

/**
 * Why an EC key is not the P-256 key with an uncompressed point (65 octets) accepted (review 287: the refusal named
 * only id-ecPublicKey, the algorithm of the accepted keys too): its curve, by name and OID (the OID a quoted cut, it is
 * the sender's), or explicit parameters, and the form of its point. A fixed phrase otherwise.
 */
const ecKeyRefusal = (spki: pkijs.PublicKeyInfo): string => {
  const accepted = 'only P-256 (prime256v1) with an uncompressed point is accepted';
  const params: unknown = spki.algorithm.algorithmParams;
  if (params instanceof asn1js.Sequence) return `EC key with explicit curve parameters, not a named curve; ${accepted}`;
  if (!(params instanceof asn1js.ObjectIdentifier)) return `EC key without a named curve; ${accepted}`;
  const oid = params.valueBlock.toString();
  const name = CURVE_NAMES[oid];
  const curve = name === undefined ? `curve ${quotedCut(oid)}` : `${name} (${oid})`;
  const point = spki.subjectPublicKey.valueBlock.valueHexView;
  const form = point.byteLength === 0 ? undefined : POINT_FORMS[point[0]!];
  const how =
    point.byteLength === 0
      ? ' with no point'
      : form === undefined
        ? ' with a point of no known form'
        : form !== 'uncompressed'
          ? ` with a ${form} point`
          : name !== 'prime256v1'
            ? ''
            : point.byteLength === 65
              ? ' with a point not encoded as RFC 5480 2.2 says'
              : ` with an uncompressed point of ${point.byteLength} octets, not 65`;
  return `EC key on ${curve}${how}; ${accepted}`;
};

/**
 * Parses a DER CSR and checks its proof of possession: the signature over the CertificationRequestInfo verifies
 * with the key it carries (domain/crypto/signatures; a high-S ECDSA signature is normalised first, see
 * compactEcdsaSignature). The key must be Ed25519 or P-256.
 */
export const verifyCertificationRequest = (der: Uint8Array): CsrCheck<CertificationRequest> => {
  // Bounded before any parsing, whatever the caller checked (the protocol message's schema bounds it too).
  if (der.byteLength > MAX_CSR_LENGTH) return refuse('malformed_csr', `${der.byteLength} bytes, at most ${MAX_CSR_LENGTH}`);
  // One DER CertificationRequest (RFC 2986 section 4, "DER-encoded"): asn1js reads BER, so a non-minimal or indefinite
  // length, a constructed string, ... would be read as the DER value it is not. The detail is a fixed phrase.
  const notDer = derViolation(der);
  if (notDer !== undefined) return refuse('malformed_csr', `not DER: ${notDer}`);
  let request: pkijs.CertificationRequest;
  let info: asn1js.Sequence;
  try {
    const copy = Uint8Array.from(der);
    const asn = asn1js.fromBER(copy);
    if (asn.offset === -1 || asn.offset !== copy.byteLength) throw new Error('not a single DER value');
    request = new pkijs.CertificationRequest({ schema: asn.result });
    info = (asn.result as asn1js.Sequence).valueBlock.value[0] as asn1js.Sequence;
    if (request.version !== 0) return refuse('malformed_csr', `version ${request.version + 1}, expected 1`);
  } catch {
    return refuse('malformed_csr', 'not a DER PKCS#10 certification request');
  }
  const spki = info.valueBlock.value[2];
  const key = spki === undefined ? undefined : publicKeyFromSpki(bytesOf(spki));
  // The algorithm identifiers are the sender's (an OID of thousands of arcs fits in 4 KiB): quoted cut, as names are.
  if (key === undefined || key.kind === 'x25519') {
    const algorithm = request.subjectPublicKeyInfo.algorithm.algorithmId;
    return refuse('unsupported_key', algorithm === EC_PUBLIC_KEY ? ecKeyRefusal(request.subjectPublicKeyInfo) : `key algorithm ${quotedCut(algorithm)}`);
  }
  const kind = key.kind;
  const algorithm = request.signatureAlgorithm.algorithmId;
  if (algorithm !== SIGNATURE_ALGORITHM_OID[kind]) return refuse('unsupported_signature_algorithm', `${quotedCut(algorithm)} for a ${kind} key`);
  // RFC 8410 section 3 and RFC 5758 section 3.2: the parameters are absent (not even NULL).
  if (request.signatureAlgorithm.algorithmParams !== undefined) return refuse('unsupported_signature_algorithm', `${algorithm} with parameters`);
  const signatureBits = request.signatureValue.valueBlock;
  const raw = signatureBits.unusedBits === 0 ? new Uint8Array(signatureBits.valueHexView) : undefined;
  const signature = raw === undefined ? undefined : kind === 'ed25519' ? raw : compactEcdsaSignature(raw);
  if (signature === undefined || !verifySignature(kind, key.publicKey, bytesOf(info), signature)) return refuse('bad_csr_signature', 'the signature does not verify with its key');
  let altNames: CsrCheck<CertificationRequest['altNames']>;
  try {
    altNames = altNamesOf(request);
  } catch {
    return refuse('malformed_csr', 'unreadable extensionRequest');
  }
  if (!altNames.ok) return altNames;
  const commonNames = request.subject.typesAndValues
    .filter((t) => t.type === OID.commonName)
    .map((t) => String((t.value as asn1js.BaseStringBlock).valueBlock.value));
  return { ok: true, value: { publicKey: { kind, bytes: key.publicKey }, commonNames, altNames: altNames.value } };
};

/**
 * The CSR names this node and nothing else: every commonName is the Node-ID, every subject alternative name is one
 * of the node's URIs (node-names.ts), and at least one of them is there. Other subject attributes are not read: the
 * CA writes the certificate's subject itself.
 */
export const checkCsrNamesNode = (request: CertificationRequest, naming: NodeNaming): CsrCheck<CertificationRequest> => {
  const allowed = new Set(nodeUris(naming));
  const foreignCn = request.commonNames.find((cn) => cn !== naming.nodeId);
  if (foreignCn !== undefined) return refuse('subject_mismatch', `CN ${quotedCut(foreignCn)} is not the Node-ID`);
  const foreignName = request.altNames.find((n) => n.type !== 6 || !allowed.has(n.value));
  if (foreignName !== undefined) {
    return refuse('subject_mismatch', `subject alternative name ${foreignName.type === 6 ? JSON.stringify(foreignName.value.slice(0, 120)) : `of type ${foreignName.type}`} does not name this node`);
  }
  if (request.commonNames.length === 0 && request.altNames.length === 0) return refuse('subject_mismatch', 'names no node (no CN, no URI)');
  return { ok: true, value: request };
};

/**
 * A CSR made on the node: `subject` (DER Name), the URIs as subjectAltName in an extensionRequest, signed by `sign`
 * (which returns the signature as X.509 carries it, x509Signature). The node's key never leaves its Secure Environment.
 */
export const buildCertificationRequest = async (args: {
  readonly key: { readonly kind: CaKeyKind; readonly bytes: Uint8Array };
  readonly subject: Uint8Array;
  readonly uris: readonly string[];
  readonly sign: (info: Uint8Array) => Promise<Uint8Array>;
}): Promise<Uint8Array> => {
  const request = new pkijs.CertificationRequest();
  request.version = 0;
  request.subject = pkiName(args.subject);
  request.subjectPublicKeyInfo = publicKeyInfo(args.key.kind, args.key.bytes);
  request.attributes =
    args.uris.length === 0
      ? []
      : [
          new pkijs.Attribute({
            type: EXTENSION_REQUEST,
            values: [new pkijs.Extensions({ extensions: [subjectAltNameUris(args.uris, false)] }).toSchema()],
          }),
        ];
  request.signatureAlgorithm = signatureAlgorithm(args.key.kind);
  // toSchema(true) encodes the CertificationRequestInfo afresh (encodeTBS is protected): its first element.
  const info = new Uint8Array((request.toSchema(true).valueBlock.value[0] as asn1js.Sequence).toBER());
  request.tbsView = info;
  request.signatureValue = new asn1js.BitString({ valueHex: await args.sign(info) });
  return new Uint8Array(request.toSchema(false).toBER());
};
