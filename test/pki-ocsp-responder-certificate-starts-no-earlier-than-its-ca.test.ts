import { describe, expect, it } from 'vitest';
import { createRootCa, loadIssuingCas } from '../adapters/driven/pki/index.ts';
import { OcspSigningKey } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { issuerOf } from '../domain/x509/issuance/index.ts';
import { memorySecureEnvironment } from './crypto-fixtures.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { testCa } from './support/pki-test-ca.ts';

/*
 * Found in review 203: the delegated OCSP responder's certificate began a minute before `now` whatever its CA, so on a
 * fresh `ca init` then `serve` the CA's began at 19:33:45 and the responder's at 19:32:52. A validator that requires a
 * certificate's validity to lie within its issuer's (the shell model) refuses such a responder. It now begins no
 * earlier than the CA (nor any certificate above it), and an hour back under an older CA (review 464: a minute back
 * was within the 5 minutes a relying party's clock may be behind).
 */
const folder = temporaryFolders('credence-ocsp-responder-start-');

describe("the OCSP responder's certificate", () => {
  it('begins no earlier than a CA made just before it', async () => {
    const dataDir = folder();
    const now = Date.now();
    const se = ownerView(memorySecureEnvironment('ocsp-responder-start', () => new Date(now)), 'maf:infrastructure');
    await createRootCa({ dataDir, se, id: 'default', kind: 'p256', now: new Date(now), random: systemRandom });
    const [ca] = await loadIssuingCas(dataDir, se);
    const key = await OcspSigningKey.open({ dataDir, se, ca: ca!, random: systemRandom, now: () => now + 5_000 });
    const caBegins = issuerOf(ca!.certificate).notBefore.getTime();
    expect(key.current.notBefore).toBe(caBegins);
    expect(issuerOf(key.current.certificate).notBefore.getTime()).toBe(caBegins);
  });

  it('begins an hour back under a CA that began earlier, for relying parties whose clock is behind', async () => {
    const now = Date.now();
    const ca = await testCa('default', 'p256', now);
    const se = ownerView(memorySecureEnvironment('ocsp-responder-start-older-ca', () => new Date(now)), 'maf:infrastructure');
    const key = await OcspSigningKey.open({ se, ca, random: systemRandom, now: () => now });
    expect(key.current.notBefore).toBe(Math.floor(now / 1000) * 1000 - 60 * 60_000);
  });
});
