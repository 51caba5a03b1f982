import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { afterAll, describe, expect, it } from 'vitest';
import { startPkiRevocation, systemRandom, type PkiRevocation } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { fromBase64url } from '../domain/crypto/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { operator } from './support/fleet.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { epochSeconds, pkiWorld } from './pki-issuance-fixtures.ts';

/** 0 good, 1 revoked, 2 unknown: the CHOICE tag of the first SingleResponse's certStatus. */
const certStatusOf = (der: Uint8Array): number => {
  const basic = pkijs.BasicOCSPResponse.fromBER(pkijs.OCSPResponse.fromBER(der).responseBytes!.response.valueBlock.valueHexView);
  return (basic.tbsResponseData.responses[0]!.certStatus as asn1js.BaseBlock).idBlock.tagNumber;
};

/**
 * The real flow (issue 13): a node provisions a P-256 service credential over the Enrolment Function with a CSR, the
 * CA certifies it and CredentialIssued records the certificate; revoking the credential puts it on the CRL and makes
 * the OCSP responder say revoked.
 */
describe.skipIf(!hasOpenssl())('a remotely provisioned device certificate, revoked', () => {
  let world: Awaited<ReturnType<typeof pkiWorld>> | undefined;
  let pki: PkiRevocation | undefined;
  const files = new OpenSslDir('credence-provisioned-');
  afterAll(async () => {
    pki?.stop();
    await world?.close();
    files.remove();
  });

  it('is accepted with the served CRL before revokeCredential and refused after it; OCSP says good, then revoked', async () => {
    world = await pkiWorld('p256');
    const w = world;
    const device = await w.registered('meter-1');
    await w.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'p256' });
    const certificate = fromBase64url((await w.issued('meter-1-svc')).certificate!.der!);
    pki = await startPkiRevocation({
      credence: w.credence, cas: [w.ca], baseUrl: 'https://credence.example', dataDir: w.dir,
      se: ownerView(w.infraSe, 'maf:infrastructure'), random: systemRandom, now: () => w.clock.now().getTime(),
    });
    await w.credence.settle();
    files.write('root.pem', pem('CERTIFICATE', w.ca.certificate));
    files.write('node.pem', pem('CERTIFICATE', certificate));
    await files.ok(['ocsp', '-issuer', 'root.pem', '-cert', 'node.pem', '-no_nonce', '-reqout', 'node.req']);
    const request = new Uint8Array(files.read('node.req'));
    const verify = async () => {
      files.write('crl.pem', pem('X509 CRL', (await pki!.crl('default')!.full()).der));
      // The world's clock is the engine's (2026-01-01): the CRL's times and the certificate's validity are in it.
      return files.run(['verify', '-attime', epochSeconds(w.clock.now()), '-crl_check', '-CAfile', 'root.pem', '-CRLfile', 'crl.pem', 'node.pem']);
    };

    expect((await verify()).stdout).toContain('node.pem: OK');
    expect(certStatusOf((await pki.ocsp('default')!.respond(request)).der)).toBe(0);

    await w.credence.engine.execute(command('revokeCredential', { credentialId: 'meter-1-svc', reason: 'keyCompromise' }, { actor: operator }));
    await w.credence.settle();
    const after = await verify();
    expect(after.stdout + after.stderr).toContain('certificate revoked');
    expect(certStatusOf((await pki.ocsp('default')!.respond(request)).der)).toBe(1);
  }, 60_000);
});
