import { describe, expect, it } from 'vitest';
import { readCaFile, seSigner } from '../adapters/driven/pki/index.ts';
import { OcspSigningKey } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { issueNodeCertificate, issuerOf } from '../domain/x509/issuance/index.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { runCli } from './support/cli.ts';
import { derOfPem, hasOpenssl, pem } from './support/openssl.ts';
import { intermediateUnderOpenSslRoot } from './support/openssl-intermediate-ca.ts';
import { epochSeconds } from './pki-issuance-fixtures.ts';
import { seededRandom } from './crypto-fixtures.ts';

/*
 * Found in review (D3): an intermediate signed for 3,650 days by an OpenSSL root valid for 2 was installed (the
 * install probe is valid for 60 s, so it never saw the root end), and a 365-day node certificate issued under it
 * failed `openssl verify -attime <now+30d>` ("certificate has expired"): RFC 5280 6.1.3 (a)(2) checks every
 * certificate of the path. Now `ca install` refuses it (`outlives_chain`, naming the date to sign it to), and
 * issuance, of node certificates and of the OCSP responder's, ends no later than the earliest certificate of the
 * CA's chain, whatever CA file it is given.
 */
const DAY = 86_400_000;
const run = runCli;

const { files, data, init, sign } = intermediateUnderOpenSslRoot('credence-ca-outlives-');

describe.runIf(hasOpenssl())('an intermediate CA whose root ends first', () => {
  it('is refused by ca install, and nothing issued under such a chain outlives the root', async () => {
    await init('Short Root', '2');
    await sign('3650', 'int-long.pem');
    const rootDer = derOfPem(files.read('root.pem').toString(), 'CERTIFICATE');
    const rootEnds = issuerOf(rootDer).notAfter;

    const refused = await run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file('int-long.pem'), '--chain', files.file('root.pem')]);
    expect(refused.code, refused.out).toBe(1);
    expect(refused.err).toContain(`certificate: it ends `);
    expect(refused.err).toContain(`after the root (${rootEnds.toISOString()})`);
    expect(refused.err).toContain(`have it signed again to end no later than ${rootEnds.toISOString()}`);
    expect((await run(['ca', 'show', '--data', data, '--id', 'sub-1'])).out).toContain('awaiting_certificate');

    // A CA file that holds such a chain all the same (installed before this check): issuance stops at the root's end.
    const file = readCaFile(data, 'sub-1');
    if (file?.state !== 'awaiting_certificate') throw new Error('the CA should still await its certificate');
    const se = openDataFolderSecureEnvironment(data, { now: () => new Date() });
    try {
      const infra = ownerView(se, 'maf:infrastructure');
      const ca: IssuingCa = {
        id: 'sub-1',
        certificate: derOfPem(files.read('int-long.pem').toString(), 'CERTIFICATE'),
        chain: [rootDer],
        signer: await seSigner(infra, file.keyHandle, file.keyKind),
      };
      const now = new Date(Math.floor(Date.now() / 1000) * 1000);
      const node = await infra.generate('p256', { usage: 'sign' });
      const key = { kind: 'p256' as const, bytes: (await infra.describe(node)).publicKey! };
      const issue = (days: number) =>
        issueNodeCertificate({
          ca, baseUrl: 'https://credence.example', naming: { nodeId: 'meter-7' }, key,
          validity: { notBefore: now, notAfter: new Date(now.getTime() + days * DAY) }, serialRandom: seededRandom(`outlives-${days}`)(16),
        });
      expect(await issue(365)).toEqual({ ok: false, reason: 'ca_expires_first' });
      const day = await issue(1);
      if (!day.ok) throw new Error(`a day's certificate within the root should issue: ${day.reason}`);
      files.write('node.pem', pem('CERTIFICATE', day.der));
      const verified = await files.run(['verify', '-attime', epochSeconds(new Date(now.getTime() + DAY / 2)), '-CAfile', 'root.pem', '-untrusted', 'int-long.pem', 'node.pem']);
      expect(verified.stdout.trim(), verified.stderr).toBe('node.pem: OK');

      // The delegated OCSP responder's certificate (a week by default) ends with the root too.
      const responder = await OcspSigningKey.open({ se: infra, ca, random: systemRandom, now: () => now.getTime() });
      expect(responder.current.notAfter).toBe(rootEnds.getTime());
    } finally {
      se.close();
    }

    // Signed again to end within the root: installed.
    await sign('1', 'int-short.pem');
    const installed = await run(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file('int-short.pem'), '--chain', files.file('root.pem')]);
    expect(installed.code, installed.err).toBe(0);
  });
});
