import { describe, expect, it } from 'vitest';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { assertPublishableHost, isWildcardHost } from '../adapters/http/public-url.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { CredenceError } from '../domain/errors.ts';
import { ownerView } from '../domain/ports/index.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Issued certificates name their CRL, delta CRL, OCSP and CA certificate URLs under the public URL for their whole
 * lifetime. Without `publicUrl` it was `http://<the address bound>:<port>`: bound to a wildcard address (`--host
 * 0.0.0.0` or `::`, as in a container) every certificate pointed relying parties at `http://0.0.0.0:…`, which reaches
 * no one's service but their own. With issuing CAs the start is refused instead, naming `publicUrl`.
 */

const folder = temporaryFolders('credence-wildcard-host-');

const folderWithCa = async (): Promise<string> => {
  const dir = folder();
  const se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
  try {
    await createRootCa({ dataDir: dir, se: ownerView(se, 'maf:infrastructure'), id: 'default', kind: 'p256', now: new Date(), random: systemRandom });
  } finally {
    se.close();
  }
  return dir;
};

describe('a service bound to a wildcard address', () => {
  it('with an issuing CA and no publicUrl refuses to start, naming publicUrl', async () => {
    const dir = await folderWithCa();
    const refused = await startTestService({ dir, config: { host: '0.0.0.0' } }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(CredenceError);
    const problem = (refused as CredenceError).problem;
    expect(problem.code).toBe('validation');
    expect(problem.code === 'validation' && problem.issues).toEqual([
      expect.objectContaining({ path: 'publicUrl', rule: 'public_url_for_wildcard_host', message: expect.stringMatching(/wildcard address 0\.0\.0\.0/) }),
    ]);

    // Nothing was left holding the data folder: the same folder starts once publicUrl is given, and its
    // certificates name that URL.
    const svc = await startTestService({ dir, config: { host: '0.0.0.0', publicUrl: 'https://pki.example.org' } });
    try {
      expect(svc.service.context.pki?.baseUrl).toBe('https://pki.example.org');
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('without an issuing CA starts: no certificate names a URL', async () => {
    const svc = await startTestService({ dir: folder(), config: { host: '0.0.0.0' } });
    try {
      expect(svc.service.context.pki?.cas.length).toBe(0);
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('refuses a publicUrl that names a wildcard address itself, with a CA (found in review: accepted as given)', () => {
    for (const publicUrl of ['http://0.0.0.0:8080', 'http://[::]:8080', 'https://0/']) {
      expect(() => assertPublishableHost('127.0.0.1', publicUrl, 1), publicUrl).toThrow(/names a wildcard address/);
      expect(() => assertPublishableHost('127.0.0.1', publicUrl, 0), publicUrl).not.toThrow();
    }
    expect(() => assertPublishableHost('0.0.0.0', 'https://pki.example.org', 1)).not.toThrow();
  });

  it('is any spelling of the unspecified IPv4 or IPv6 address, and no other', () => {
    for (const host of ['0.0.0.0', '0', '::', '0:0::0', '0:0:0:0:0:0:0:0', '::ffff:0.0.0.0']) expect(isWildcardHost(host), host).toBe(true);
    for (const host of ['127.0.0.1', '::1', 'localhost', '10.0.0.5', 'fe80::1%eth0', 'credence.example.org']) expect(isWildcardHost(host), host).toBe(false);
  });
});
