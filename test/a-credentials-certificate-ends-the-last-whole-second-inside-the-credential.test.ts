import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openCredence, systemClock, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { fromBase64url } from '../domain/crypto/index.ts';
import { streamIdOf } from '../domain/streams.ts';
import { checkValidity } from '../domain/x509/path-validation.ts';
import { certificateValidityOf } from '../domain/x509/issuance/index.ts';
import { isWithin } from '../machines/types.ts';
import { pkiWorld } from './pki-issuance-fixtures.ts';
import { cmd, operator } from './support/fleet.ts';
import { PKI_TEST_URL } from './support/pki-instance.ts';
import { certifiedCredentialData, testCa, testLeaf, type TestLeaf } from './support/pki-test-ca.ts';

/*
 * Review 191: a credential is valid on [notBefore, notAfter) (isWithin), a certificate through its notAfter (RFC 5280
 * 4.1.2.5). A certificate issued with the credential's notAfter stayed valid (OCSP good, OpenSSL accepting it) for the
 * second after the credential expired and its keys were destroyed; and issueCredential took a Credence-CA certificate
 * of any validity (a 1-day credential recorded with a 30-day certificate). The certificate now ends at the last whole
 * second inside the credential's window, and a Credence-CA certificate of any other validity is refused.
 */
const accepts = (cert: x509.X509Certificate, at: Date): boolean => {
  try {
    checkValidity(cert, at);
    return true;
  } catch {
    return false;
  }
};

describe("a provisioned credential's certificate", () => {
  let world: Awaited<ReturnType<typeof pkiWorld>> | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('is outside at the credential\'s notAfter, and both are valid one second before', async () => {
    world = await pkiWorld('p256');
    const device = await world.registered('meter-1');
    await world.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'p256' });
    const issued = await world.issued('meter-1-svc');
    const cert = new x509.X509Certificate(Uint8Array.from(fromBase64url(issued.certificate!.der!)));
    const window = { notBefore: Date.parse(issued.notBefore), notAfter: Date.parse(issued.notAfter) };
    const end = new Date(window.notAfter);
    expect(isWithin(end.getTime(), window)).toBe(false);
    expect(accepts(cert, end)).toBe(false);
    const lastSecond = new Date(window.notAfter - 1000);
    expect(isWithin(lastSecond.getTime(), window)).toBe(true);
    expect(accepts(cert, lastSecond)).toBe(true);
    expect(issued.certificate?.notAfter).toBe(lastSecond.toISOString());
    expect(issued.certificate?.notBefore).toBe(issued.notBefore);
  });
});

describe('the certificate validity of a credential', () => {
  it('starts at the first whole second at or after notBefore and ends at the last whole second that ends by notAfter', () => {
    const of = (notBefore: string, notAfter: string) => {
      const v = certificateValidityOf({ notBefore: new Date(notBefore), notAfter: new Date(notAfter) });
      return [v.notBefore.toISOString(), v.notAfter.toISOString()];
    };
    expect(of('2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z')).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-01T23:59:59.000Z']);
    // Review 221: a notAfter inside a second ends the certificate at the second before that one, which a relying
    // party accepts through its .999: the second of the notAfter itself would outlive the credential.
    expect(of('2026-01-01T00:00:00.250Z', '2026-01-02T00:00:00.250Z')).toEqual(['2026-01-01T00:00:01.000Z', '2026-01-01T23:59:59.000Z']);
    expect(of('2026-01-01T00:00:00.999Z', '2026-01-02T00:00:00.001Z')).toEqual(['2026-01-01T00:00:01.000Z', '2026-01-01T23:59:59.000Z']);
    expect(of('2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.999Z')).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-01T23:59:59.000Z']);
  });
});

describe("issueCredential with a certificate of one of Credence's CAs", () => {
  let credence: Credence;
  let leaf: TestLeaf;
  beforeAll(async () => {
    credence = openCredence({ location: { memory: true }, clock: systemClock });
    await credence.engine.execute(cmd.registerNode('meter-1'));
    leaf = await testLeaf(await testCa('default'), { baseUrl: PKI_TEST_URL, name: 'meter-1', validityMs: 30 * 86_400_000 });
  });
  afterAll(() => credence.close());

  /** `leaf` recorded for a credential valid on [notBefore, notAfter). */
  const data = (credentialId: string, notBefore: Date, notAfter: Date) => ({
    ...certifiedCredentialData(credentialId, leaf.der),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
  });

  /** The validation issues refusing `d`, after checking that nothing was written. */
  const refusedWith = async (d: ReturnType<typeof data>) => {
    const head = await credence.store.headPosition();
    const error = await credence.engine.execute(command('issueCredential', d, { actor: operator })).then(
      () => undefined,
      (e: unknown) => e as { code?: string; problem?: { issues?: { path: string; rule?: string; message: string }[] } },
    );
    expect(await credence.store.readStream(streamIdOf('credential', d.credentialId))).toEqual([]);
    expect(await credence.store.headPosition()).toBe(head);
    expect(error?.code).toBe('validation');
    return error?.problem?.issues ?? [];
  };

  it('is refused when the certificate outlives the credential, naming what its notAfter must be', async () => {
    const oneDay = new Date(leaf.notBefore.getTime() + 86_400_000);
    const issues = await refusedWith(data('cred-one-day', leaf.notBefore, oneDay));
    expect(issues.map(({ path, rule }) => ({ path, rule }))).toEqual([{ path: 'data.certificate.notAfter', rule: 'certificate_validity' }]);
    expect(issues[0]?.message).toContain(new Date(oneDay.getTime() - 1000).toISOString());
  });

  it('is refused when the certificate ends at the credential\'s notAfter (one second past its window)', async () => {
    const issues = await refusedWith(data('cred-inclusive-end', leaf.notBefore, leaf.notAfter));
    expect(issues.map(({ path, rule }) => ({ path, rule }))).toEqual([{ path: 'data.certificate.notAfter', rule: 'certificate_validity' }]);
  });

  it("is refused when the credential ends inside the certificate's last second (review 221: accepted through its .999)", async () => {
    const issues = await refusedWith(data('cred-inside-last-second', leaf.notBefore, new Date(leaf.notAfter.getTime() + 600)));
    expect(issues.map(({ path, rule }) => ({ path, rule }))).toEqual([{ path: 'data.certificate.notAfter', rule: 'certificate_validity' }]);
  });

  it('is refused when the certificate starts before the credential', async () => {
    const issues = await refusedWith(data('cred-late-start', new Date(leaf.notBefore.getTime() + 1000), new Date(leaf.notAfter.getTime() + 1000)));
    expect(issues.map(({ path, rule }) => ({ path, rule }))).toEqual([{ path: 'data.certificate.notBefore', rule: 'certificate_validity' }]);
  });

  it('is recorded when its validity is the one derived from the credential, milliseconds included', async () => {
    await credence.engine.execute(command('issueCredential', data('cred-derived', new Date(leaf.notBefore.getTime() - 400), new Date(leaf.notAfter.getTime() + 1_600)), { actor: operator }));
    expect(await credence.store.readStream(streamIdOf('credential', 'cred-derived'))).toHaveLength(1);
  });
});
