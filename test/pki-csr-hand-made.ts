/**
 * CSRs built by hand around a noble Ed25519 key, so their structure can be what no well-behaved client makes: any
 * requested extension value, any signature or key algorithm OID. The signature is real (over the DER
 * CertificationRequestInfo pkijs encodes), so only the structure is wrong.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { nodeSubject, nodeUris, publicKeyInfo, subjectAltNameUris } from '../domain/x509/issuance/index.ts';

const SECRET = new Uint8Array(32).fill(9);
const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
export const SUBJECT_ALT_NAME = '2.5.29.17';

export const handMadeCsr = (shape: {
  /** Requested extensions, as they are put in one extensionRequest; default: the node's URIs as subjectAltName. */
  readonly extensions?: readonly pkijs.Extension[];
  readonly signatureAlgorithm?: string;
  /** A subjectPublicKeyInfo with this algorithm OID (and the Ed25519 key's bits) instead of the Ed25519 one. */
  readonly keyAlgorithm?: string;
}): Uint8Array => {
  const request = new pkijs.CertificationRequest();
  request.version = 0;
  request.subject = new pkijs.RelativeDistinguishedNames({ schema: asn1js.fromBER(nodeSubject('meter-7').name).result });
  const publicKey = ed25519.getPublicKey(SECRET);
  request.subjectPublicKeyInfo =
    shape.keyAlgorithm === undefined
      ? publicKeyInfo('ed25519', publicKey)
      : new pkijs.PublicKeyInfo({ algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: shape.keyAlgorithm }), subjectPublicKey: new asn1js.BitString({ valueHex: publicKey }) });
  const extensions = shape.extensions ?? [subjectAltNameUris(nodeUris({ nodeId: 'meter-7' }), false)];
  request.attributes = [new pkijs.Attribute({ type: EXTENSION_REQUEST, values: [new pkijs.Extensions({ extensions: [...extensions] }).toSchema()] })];
  request.signatureAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: shape.signatureAlgorithm ?? '1.3.101.112' });
  const info = new Uint8Array((request.toSchema(true).valueBlock.value[0] as asn1js.Sequence).toBER());
  request.tbsView = info;
  request.signatureValue = new asn1js.BitString({ valueHex: ed25519.sign(info, SECRET) });
  return new Uint8Array(request.toSchema(false).toBER());
};

/** An extension whose extnValue holds exactly these bytes (whatever they are). */
export const rawExtension = (extnID: string, value: readonly number[]): pkijs.Extension =>
  new pkijs.Extension({ extnID, critical: false, extnValue: Uint8Array.from(value).buffer });
