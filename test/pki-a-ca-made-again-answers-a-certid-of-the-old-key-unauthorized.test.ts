import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Credence, PkiRevocation } from '../adapters/runtime/index.ts';
import { cmd } from './support/fleet.ts';
import { ocspRequest, ocspStatus } from './support/ocsp-client.ts';
import { closePkiInstance, dataFolderPki, PKI_TEST_URL } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa, type TestLeaf } from './support/pki-test-ca.ts';

/*
 * Review 148 (docs/pki.md, "A CA key is compromised", step 2): a relying party builds its CertID from the
 * certificate's own issuer. For a certificate the old key of a CA made again under the same id signed, that CertID
 * names the old key, which the new CA's responder does not serve: `unauthorized` (unsigned, RFC 6960 2.3), not the
 * `unknown` the docs said, and a soft-fail client ignores it. `unknown` is only for a CertID naming the new key.
 */
describe('a CA made again under the same id, asked with a CertID of the old key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-ca-old-certid-'));
  const folder = dataFolderPki(dir);
  let credence: Credence | undefined;
  let served: PkiRevocation | undefined;
  let oldCa: Awaited<ReturnType<typeof testCa>>;
  let newCa: Awaited<ReturnType<typeof testCa>>;
  let revoked: TestLeaf;

  beforeAll(async () => {
    credence = folder.open();
    oldCa = await testCa('default');
    newCa = await testCa('default');
    revoked = await issueCertifiedCredentialWith(credence, oldCa, PKI_TEST_URL, 'cred-old-revoked');
    await credence.engine.execute(cmd.revokeCredential('cred-old-revoked', 'keyCompromise'));
    await credence.settle();
    served = await folder.start(credence, newCa);
  }, 60_000);
  afterAll(() => closePkiInstance({ pki: served, credence, se: folder.se, dir }));

  it('answers unauthorized, unsigned, for a revoked certificate of the old key; unknown when the CertID names the new key', async () => {
    const responder = served!.ocsp('default')!;
    const byOldIssuer = await responder.respond(await ocspRequest(revoked, oldCa));
    expect(byOldIssuer.outcome).toBe('unauthorized');
    expect(ocspStatus((await responder.respond(await ocspRequest(revoked, newCa))).der)).toBe('unknown');
  });
});
