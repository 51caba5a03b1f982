import { afterAll, describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { issueNodeCertificate } from '../domain/x509/issuance/index.ts';
import { pkiUrls } from '../domain/x509/issuing-ca.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { testCa, testSigner } from './support/pki-test-ca.ts';

/*
 * A certificate names its CRL, delta CRL, OCSP responder and CA certificate under `publicUrl` for its whole lifetime
 * (docs/pki.md). The text the configuration checked is the text written: publicUrl (a trailing `/` dropped), then the
 * path. Found in review: a base the configuration let through (`http://127.0.0.1:8080/?`) made
 * `URI:http://127.0.0.1:8080/?/pki/default/crl`, a query; issuance now refuses a base that is not such a URL before it
 * signs anything, whoever passes it.
 */

const DAY = 86_400_000;
const files = new OpenSslDir();
afterAll(() => files.remove());

const issue = async (baseUrl: string) => {
  const ca = await testCa('default', 'p256');
  const now = Date.now();
  const issued = await issueNodeCertificate({
    ca,
    baseUrl,
    naming: { nodeId: 'meter-1', cseId: '/meter-1-cse' },
    key: { kind: 'p256', bytes: testSigner('p256').publicKey },
    validity: { notBefore: new Date(Math.floor(now / 1000) * 1000), notAfter: new Date(Math.floor((now + 30 * DAY) / 1000) * 1000) },
    serialRandom: new Uint8Array(16).fill(7),
  });
  if (!issued.ok) throw new Error(issued.reason);
  return issued.der;
};

describe.runIf(hasOpenssl())('an issued certificate names its PKI URLs as publicUrl and the path, exactly', () => {
  it('every CDP, freshestCRL and AIA URI is the configured publicUrl followed by /pki/<ca>/…, as OpenSSL reads it', async () => {
    for (const configured of ['https://pki.example.org:8443/credence', 'https://pki.example.org:8443/credence/']) {
      const { publicUrl } = loadServiceConfig({ env: { CREDENCE_PUBLIC_URL: configured } });
      expect(publicUrl).toBe(configured);
      files.write('node.pem', pem('CERTIFICATE', await issue(publicUrl!)));
      const text = await files.ok(['x509', '-in', 'node.pem', '-noout', '-ext', 'crlDistributionPoints,freshestCRL,authorityInfoAccess']);
      const uris = [...text.matchAll(/URI:(\S+)/g)].map((m) => m[1]).sort();
      const base = 'https://pki.example.org:8443/credence';
      expect(uris).toEqual([`${base}/pki/default/ca.crt`, `${base}/pki/default/crl`, `${base}/pki/default/delta-crl`, `${base}/pki/default/ocsp`]);
    }
  });

  it('a base that is not such a URL is refused before anything is signed, naming the argument and the rule', async () => {
    for (const [baseUrl, rule] of [
      ['http://127.0.0.1:8080/?', 'no_query_or_fragment'],
      ['http://127.0.0.1:8080/#', 'no_query_or_fragment'],
      ['http://operator:s3cret@127.0.0.1:8080', 'no_userinfo'],
      ['http://127.0.0.1:8080/a b', 'printable_ascii'],
      ['http://127.0.0.1:8080/é', 'printable_ascii'],
    ] as const) {
      await expect(issue(baseUrl), baseUrl).rejects.toThrow(new RegExp(`^baseUrl: ${rule}: `));
      expect(() => pkiUrls(baseUrl, 'default'), baseUrl).toThrow(TypeError);
    }
    await expect(issue('http://operator:s3cret@127.0.0.1:8080')).rejects.not.toThrow(/s3cret/);
  });
});
