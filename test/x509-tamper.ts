/** Certificates that @peculiar/x509's generator will not make: the TBSCertificate edited, then signed again. */
import { webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn from '@peculiar/asn1-x509';
import { signingAlgorithmOf } from './x509-fixtures.ts';

const derInteger = (bytes: Uint8Array): number[] => {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const value = [...bytes.slice(i)];
  if ((value[0] ?? 0) & 0x80) value.unshift(0);
  return [0x02, value.length, ...value];
};

/** WebCrypto's ECDSA signature (r || s) as the DER Ecdsa-Sig-Value X.509 carries. */
const ecdsaSigValue = (raw: Uint8Array): Uint8Array => {
  const half = raw.length / 2;
  const body = [...derInteger(raw.slice(0, half)), ...derInteger(raw.slice(half))];
  return Uint8Array.from([0x30, body.length, ...body]);
};

/** Applies `edit` to the certificate's TBSCertificate and signs the result with `signer` (the issuer's key). */
export const resign = async (
  cert: x509.X509Certificate,
  signer: webcrypto.CryptoKey,
  edit: (tbs: asn.TBSCertificate) => void,
): Promise<x509.X509Certificate> => {
  const parsed = AsnConvert.parse(cert.rawData, asn.Certificate);
  edit(parsed.tbsCertificate);
  const tbs = AsnConvert.serialize(parsed.tbsCertificate);
  const algorithm = signingAlgorithmOf(signer);
  const raw = new Uint8Array(await webcrypto.subtle.sign(algorithm, signer, tbs));
  const signature = algorithm.name === 'ECDSA' ? ecdsaSigValue(raw) : raw;
  parsed.signatureValue = signature.buffer.slice(signature.byteOffset, signature.byteOffset + signature.byteLength) as ArrayBuffer;
  return new x509.X509Certificate(AsnConvert.serialize(parsed));
};

/** The same name with PrintableString and UTF8String attributes swapped: equal as text, not as encoded bytes. */
export const reencodeStrings = (name: asn.Name): void => {
  for (const rdn of name) {
    for (const atv of rdn) {
      const { printableString, utf8String } = atv.value;
      if (printableString !== undefined) atv.value.utf8String = printableString;
      if (utf8String !== undefined) atv.value.printableString = utf8String;
      if (printableString === undefined) delete atv.value.utf8String;
      if (utf8String === undefined) delete atv.value.printableString;
    }
  }
};

/** A nameConstraints extension (critical) with directoryName and dNSName subtrees. */
export const nameConstraints = (options: { permittedDirectory?: string; excludedDns?: string }): x509.Extension => {
  const subtrees = (names: asn.GeneralName[]) => new asn.GeneralSubtrees(names.map((base) => new asn.GeneralSubtree({ base })));
  const value = new asn.NameConstraints({
    ...(options.permittedDirectory
      ? { permittedSubtrees: subtrees([new asn.GeneralName({ directoryName: AsnConvert.parse(new x509.Name(options.permittedDirectory).toArrayBuffer(), asn.Name) })]) }
      : {}),
    ...(options.excludedDns ? { excludedSubtrees: subtrees([new asn.GeneralName({ dNSName: options.excludedDns })]) } : {}),
  });
  return new x509.Extension('2.5.29.30', true, AsnConvert.serialize(value));
};

/** policyConstraints { requireExplicitPolicy 0 } (RFC 5280 4.2.1.11): a policy must be asserted from here on. */
export const requireExplicitPolicy = (): x509.Extension => new x509.Extension('2.5.29.36', true, Uint8Array.from([0x30, 0x03, 0x80, 0x01, 0x00]));
