/**
 * RFC 5280 4.2 and 6.1.4 (o): an extension that path validation reads but cannot parse fails the path; it is never
 * read as absent. pkijs hands back an empty value with `parsingError` for a value it cannot parse, which the engine
 * read as "no name constraints", "no policy constraints", ... (adversarial review, D4: an intermediate with
 * `2.5.29.30=critical,DER:020101` issued a leaf for DNS:evil.test, and the chain was accepted; OpenSSL refuses it).
 * Chains are made by `openssl x509 -req` with extension files, as the reviewer made them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrustAnchors, verifyCertificateChain } from '../domain/x509/index.ts';
import { chainRejection } from './x509-fixtures.ts';
import { derOfPem, hasOpenssl, OpenSslDir } from './support/openssl.ts';

const CA = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign', 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid'];
const LEAF = ['basicConstraints=critical,CA:FALSE', 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid'];
/** NameConstraints ::= SEQUENCE { permittedSubtrees [0] { GeneralSubtree { dNSName "good.test" } } }, DER. */
const GOOD_TEST_ONLY = '300fa00d300b8209676f6f642e74657374';

describe.runIf(hasOpenssl())('path validation refuses an extension it cannot read (RFC 5280 4.2, 6.1.4 (o))', () => {
  const files = new OpenSslDir('credence-unreadable-ext-');
  let serial = 10;
  /** A minute on: `openssl x509` starts each certificate's validity when it signs it. */
  const now = () => new Date(Date.now() + 60_000);
  afterAll(() => files.remove());

  /** A certificate for a fresh P-256 key named `name`, signed by `issuer` (or self-signed), with these extension lines. */
  const certify = async (name: string, lines: readonly string[], issuer?: string): Promise<Uint8Array> => {
    await files.genkey(`${name}.key`, 'p256');
    await files.ok(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`]);
    files.write(`${name}.ext`, `${lines.join('\n')}\n`);
    const signer = issuer === undefined ? ['-signkey', `${name}.key`] : ['-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-set_serial', String(serial++)];
    await files.ok(['x509', '-req', '-in', `${name}.csr`, ...signer, '-days', '30', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
    return derOfPem(files.read(`${name}.pem`).toString('utf8'), 'CERTIFICATE');
  };

  let root: Uint8Array;
  beforeAll(async () => {
    root = await certify('root', CA.filter((l) => !l.startsWith('authorityKeyIdentifier')));
  });

  /** The verdict on leaf <- intermediate <- root, where the intermediate and the leaf add these extension lines. */
  const verdict = async (name: string, intermediate: readonly string[], leaf: readonly string[] = [], anchor?: Uint8Array): Promise<string> => {
    const int = await certify(`${name}-ca`, [...CA, ...intermediate], anchor === undefined ? 'root' : `${name}-root`);
    const end = await certify(`${name}-leaf`, [...LEAF, 'subjectAltName=DNS:evil.test', ...leaf], `${name}-ca`);
    return chainRejection(() => verifyCertificateChain([end, int], TrustAnchors.fromDer([anchor ?? root]), now())).catch((error: unknown) =>
      error instanceof Error && error.message === 'expected the chain to be rejected' ? 'accepted' : Promise.reject(error),
    );
  };

  it('accepts the chain without name constraints, and refuses a well-formed permitted DNS:good.test (the controls)', async () => {
    expect(await verdict('plain', [])).toBe('accepted');
    expect(await verdict('good-nc', ['nameConstraints=critical,permitted;DNS:good.test'])).toBe('name_constraints_violated');
    expect(await verdict('good-nc-der', [`2.5.29.30=critical,DER:${GOOD_TEST_ONLY}`])).toBe('name_constraints_violated');
  });

  it.each([
    ['a critical nameConstraints that is an INTEGER (the reviewer\'s chain)', ['2.5.29.30=critical,DER:020101']],
    ['a non-critical nameConstraints that is an INTEGER', ['2.5.29.30=DER:020101']],
    ['a critical nameConstraints followed by stray bytes', [`2.5.29.30=critical,DER:${GOOD_TEST_ONLY}0000`]],
    ['a truncated critical nameConstraints', [`2.5.29.30=critical,DER:${GOOD_TEST_ONLY.slice(0, 20)}`]],
    ['a policyConstraints that is an INTEGER', ['2.5.29.36=DER:020101']],
    ['a policyMappings that is an INTEGER', ['2.5.29.33=DER:020101']],
    ['a certificatePolicies that is an INTEGER', ['2.5.29.32=DER:020101']],
    ['an inhibitAnyPolicy that is a NULL', ['2.5.29.54=DER:0500']],
  ])('refuses an intermediate with %s: malformed_certificate', async (_what, lines) => {
    const name = `int-${serial}`;
    expect(await verdict(name, lines)).toBe('malformed_certificate');
  });

  it('refuses a leaf whose subjectAltName cannot be read under name constraints: malformed_certificate', async () => {
    const int = await certify('san-ca', [...CA, `2.5.29.30=critical,DER:${GOOD_TEST_ONLY}`], 'root');
    const end = await certify('san-leaf', [...LEAF, '2.5.29.17=DER:020101'], 'san-ca');
    expect(await chainRejection(() => verifyCertificateChain([end, int], TrustAnchors.fromDer([root]), now()))).toBe('malformed_certificate');
  });

  it('refuses a leaf whose keyUsage is not a BIT STRING: malformed_certificate', async () => {
    const int = await certify('ku-ca', CA, 'root');
    const end = await certify('ku-leaf', [...LEAF, '2.5.29.15=critical,DER:020101'], 'ku-ca');
    expect(await chainRejection(() => verifyCertificateChain([end, int], TrustAnchors.fromDer([root]), now()))).toBe('malformed_certificate');
  });

  it('refuses a leaf with an unreadable non-critical cRLDistributionPoints as malformed_certificate, not an untyped error', async () => {
    const int = await certify('crldp-ca', CA, 'root');
    const end = await certify('crldp-leaf', [...LEAF, '2.5.29.31=DER:020101'], 'crldp-ca');
    expect(await chainRejection(() => verifyCertificateChain([end, int], TrustAnchors.fromDer([root]), now()))).toBe('malformed_certificate');
  });

  it("refuses an anchor whose own critical nameConstraints cannot be read (they are the path's initial subtrees)", async () => {
    const anchor = await certify('bad-root', [...CA.filter((l) => !l.startsWith('authorityKeyIdentifier')), '2.5.29.30=critical,DER:020101']);
    const end = await certify('bad-root-leaf', [...LEAF, 'subjectAltName=DNS:evil.test'], 'bad-root');
    expect(await chainRejection(() => verifyCertificateChain([end], TrustAnchors.fromDer([anchor]), now()))).toBe('malformed_certificate');
  });
});
