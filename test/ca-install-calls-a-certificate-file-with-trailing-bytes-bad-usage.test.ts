import { describe, expect, it } from 'vitest';
import { runCli as run } from './support/cli.ts';
import { derOfPem, hasOpenssl } from './support/openssl.ts';
import { intermediateUnderOpenSslRoot } from './support/openssl-intermediate-ca.ts';

/*
 * Review 171: `credence ca install` read its files with @peculiar/x509, which takes a DER certificate with bytes after
 * it. A signed intermediate with `05 00 GARBAGE` appended passed the file check and reached path validation, which
 * refused it as a failed signature check (exit 1, "bad_signature ... malformed_certificate (intermediate 1)"), naming
 * the file being installed an intermediate. A malformed file is bad usage (exit 2, docs/pki.md), named by its option.
 */
const TRAILER = Buffer.concat([Buffer.of(0x05, 0x00), Buffer.from('GARBAGE')]);

const { files, data, init, sign } = intermediateUnderOpenSslRoot('credence-ca-trailing-');

describe.runIf(hasOpenssl())('a certificate file with bytes after the certificate, given to ca install', () => {
  it('is bad usage (exit 2) naming the option and the bytes after it; the file as signed installs', async () => {
    await init('Trailing Root', '365');
    await sign('30', 'int.pem');
    const intDer = derOfPem(files.read('int.pem').toString(), 'CERTIFICATE');
    const rootDer = derOfPem(files.read('root.pem').toString(), 'CERTIFICATE');
    files.write('int-trailing.der', Buffer.concat([intDer, TRAILER]));
    files.write('root-trailing.der', Buffer.concat([rootDer, TRAILER]));
    const install = (certificate: string, chain: string) =>
      run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file(certificate), '--chain', files.file(chain)]);

    const certificate = await install('int-trailing.der', 'root.pem');
    expect(certificate.code, certificate.err).toBe(2);
    expect(certificate.err).toContain(`--certificate: ${files.file('int-trailing.der')} has 9 bytes after the certificate`);
    expect(certificate.err).not.toContain('intermediate 1');
    expect(certificate.err).not.toContain('bad_signature');

    const chain = await install('int.pem', 'root-trailing.der');
    expect(chain.code, chain.err).toBe(2);
    expect(chain.err).toContain(`--chain: ${files.file('root-trailing.der')} has 9 bytes after the certificate`);
    expect((await run(['ca', 'show', '--data', data, '--id', 'sub-1'])).out).toContain('awaiting_certificate');

    const installed = await install('int.pem', 'root.pem');
    expect(installed.code, installed.err).toBe(0);
  }, 60_000);
});
