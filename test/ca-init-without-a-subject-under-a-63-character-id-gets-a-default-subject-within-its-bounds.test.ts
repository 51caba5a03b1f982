import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import * as pkijs from 'pkijs';
import { describe, expect, it } from 'vitest';
import { readCaFile } from '../adapters/driven/pki/index.ts';
import { fromBase64url } from '../domain/crypto/base64url.ts';
import { runCli as run } from './support/cli.ts';
import { derOfPem } from './support/openssl.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Found in review 351: `ca init --id <53 to 63 characters>` without --subject was refused "subject: CN: is 75
 * characters, at most 64 (ub-common-name…)", about a subject the user never gave (the default `CN=Credence CA <id>`),
 * for an id CaId accepts (per-subscription CA ids are M2M-Sub-IDs). The default is kept when it fits; otherwise it
 * is `CN=Credence CA, OU=<id>`, which always does (ids are at most 63 characters, ub-organizational-unit-name 64).
 */
const folder = temporaryFolders('credence-ca-default-subject-');

/** RFC 5280 Appendix A bounds of the attribute types a default subject may carry (any other type fails the check). */
const UPPER_BOUND: Readonly<Record<string, number>> = { '2.5.4.3': 64, '2.5.4.11': 64 };

const attributesOf = (name: pkijs.RelativeDistinguishedNames): { type: string; value: string }[] =>
  name.typesAndValues.map((tv) => ({ type: tv.type, value: String(tv.value.valueBlock.value) }));

const withinBounds = (attributes: readonly { type: string; value: string }[]): void => {
  expect(attributes.length).toBeGreaterThan(0);
  for (const a of attributes) expect(a.value.length, `${a.type}=${a.value}`).toBeLessThanOrEqual(UPPER_BOUND[a.type] ?? -1);
};

describe('ca init without --subject', () => {
  it('under an id of 63 characters makes a root CA whose default subject is within its bounds', async () => {
    const data = join(folder(), 'data');
    const id = 'a'.repeat(63);
    const made = await run(['ca', 'init', '--data', data, '--id', id]);
    expect(made.code, made.err).toBe(0);
    const file = readCaFile(data, id);
    expect(file?.state).toBe('active');
    const certificate = pkijs.Certificate.fromBER(fromBase64url(file!.state === 'active' ? file!.certificate : ''));
    const subject = attributesOf(certificate.subject);
    withinBounds(subject);
    expect(subject.map((a) => a.value)).toContain(id);
    expect(new x509.X509Certificate(fromBase64url(file!.state === 'active' ? file!.certificate : '')).subject).toBe(`CN=Credence CA, OU=${id}`);
  });

  it('under an id of 63 characters makes an intermediate whose CSR carries a default subject within its bounds', async () => {
    const data = join(folder(), 'data');
    const csr = join(folder(), 'sub.csr.pem');
    const id = `sub-${'9'.repeat(59)}`;
    const made = await run(['ca', 'init', '--data', data, '--id', id, '--intermediate', '--csr-out', csr]);
    expect(made.code, made.err).toBe(0);
    const request = pkijs.CertificationRequest.fromBER(derOfPem(readFileSync(csr, 'utf8'), 'CERTIFICATE REQUEST'));
    withinBounds(attributesOf(request.subject));
    expect(new x509.Pkcs10CertificateRequest(derOfPem(readFileSync(csr, 'utf8'), 'CERTIFICATE REQUEST')).subject).toBe(`CN=Credence CA, OU=${id}`);
  });

  it('under an id whose default fits keeps the subject it always had', async () => {
    const data = join(folder(), 'data');
    const id = 'f'.repeat(52);
    expect((await run(['ca', 'init', '--data', data, '--id', id])).code).toBe(0);
    const file = readCaFile(data, id);
    expect(new x509.X509Certificate(fromBase64url(file!.state === 'active' ? file!.certificate : '')).subject).toBe(`CN=Credence CA ${id}`);
  });
});
