// @peculiar/x509 resolves its parsers through tsyringe, which needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

/**
 * RFC 7468 textual encoding of DER (`CERTIFICATE`, `X509 CRL`, `CERTIFICATE REQUEST`, …): base64 in 64-character
 * lines between the BEGIN/END labels, ending in a newline so blocks concatenate into a bundle file.
 */
export const pemOf = (label: string, der: Uint8Array): string => `${x509.PemConverter.encode(Uint8Array.from(der).buffer, label)}\n`;
