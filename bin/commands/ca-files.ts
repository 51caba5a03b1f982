import { accessSync, constants, existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as asn1js from 'asn1js';
import { MAX_CERTIFICATE_CHAIN, MAX_CERTIFICATE_LENGTH } from '../../domain/crypto/sizes.ts';
import { parseCertificate } from '../../domain/x509/certificate.ts';
import { readBytesFile } from '../files.ts';
import { UsageError } from '../program.ts';

/** Certificate files given to `credence ca install`: PEM (one or more CERTIFICATE blocks) or one DER certificate. */
const MAX_FILE_BYTES = 64 * 1024;

export const readCertificates = (flag: string, path: string, max: number = MAX_CERTIFICATE_CHAIN): Uint8Array[] => {
  // Bounded while read: a FIFO or a device (/dev/zero) has no size to check beforehand.
  const read = readBytesFile(path, MAX_FILE_BYTES);
  if (!read.ok) throw new UsageError(`${flag}: ${read.message}`);
  const bytes = read.value;
  const text = bytes.toString('latin1');
  let ders: Uint8Array[];
  if (text.includes('-----BEGIN')) {
    try {
      ders = x509.PemConverter.decodeWithHeaders(text)
        .filter((block) => block.type === 'CERTIFICATE')
        .map((block) => new Uint8Array(block.rawData));
    } catch {
      throw new UsageError(`${flag}: ${path} is not valid PEM`);
    }
  } else {
    ders = [new Uint8Array(bytes)];
  }
  if (ders.length === 0) throw new UsageError(`${flag}: ${path} holds no CERTIFICATE`);
  if (ders.length > max) throw new UsageError(`${flag}: ${path} holds ${ders.length} certificates, at most ${max} are accepted`);
  ders.forEach((der, i) => {
    const which = `${path}${ders.length > 1 ? ` (certificate ${i + 1})` : ''}`;
    const after = bytesAfterFirstValue(der);
    if (after > 0) throw new UsageError(`${flag}: ${which} has ${after} bytes after the certificate: give exactly one DER certificate (or PEM blocks)`);
    // The parser path validation reads them with: @peculiar/x509 alone takes what it does not (review 171: bytes after
    // the certificate passed here, and path validation refused the file as a failed signature check of "intermediate 1").
    try {
      if (der.length > MAX_CERTIFICATE_LENGTH) throw new Error('too large');
      parseCertificate(der, flag);
    } catch {
      throw new UsageError(`${flag}: ${which} is not an X.509 certificate (PEM or DER)`);
    }
  });
  return ders;
};

/** How many bytes follow the first BER value of `der` (0 when none, or when it does not read as one: refused apart). */
const bytesAfterFirstValue = (der: Uint8Array): number => {
  const { offset } = asn1js.fromBER(Uint8Array.from(der));
  return offset > 0 && offset < der.length ? der.length - offset : 0;
};

/** Writes a file a person asked for (a CSR: public), refusing to replace one. */
export const writeNewFile = (flag: string, path: string, contents: string): void => {
  try {
    writeFileSync(path, contents, { flag: 'wx', mode: 0o644 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'EEXIST' ? `${flag}: ${path} already exists` : `${flag}: cannot write ${path} (${code ?? 'unwritable'})`);
  }
};

/**
 * Refuses, before anything is made, a path `writeNewFile` would refuse later: a file already there, a folder that does
 * not exist or is a file, one this user may not write in. (A write can still fail: the disk full, the folder gone.)
 */
export const assertNewFileWritable = (flag: string, path: string): void => {
  if (existsSync(path)) throw new UsageError(`${flag}: ${path} already exists`);
  const folder = dirname(path);
  let isFolder: boolean;
  try {
    isFolder = statSync(folder).isDirectory();
  } catch {
    throw new UsageError(`${flag}: cannot write ${path}: no folder ${folder}`);
  }
  if (!isFolder) throw new UsageError(`${flag}: cannot write ${path}: ${folder} is a file, not a folder`);
  try {
    accessSync(folder, constants.W_OK);
  } catch {
    throw new UsageError(`${flag}: cannot write ${path}: ${folder} is not writable by this user`);
  }
};
