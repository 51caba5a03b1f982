import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PkiRevocation } from '../adapters/runtime/index.ts';
import { ocspRequest } from './support/ocsp-client.ts';
import { issueCertifiedCredential, pkiOf, startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/*
 * The service listens before its CRL publishers and OCSP responders exist (they need the URL bound): meanwhile
 * `context.pkiRevocation.current` is undefined. An OCSP client reads OCSPResponses only, and the responder answered a
 * JSON problem (503) then; RFC 6960 2.3 has `tryLater` for it, which the responder already sends for an incomplete read model.
 */
describe('the OCSP responder while the PKI starts', () => {
  let svc: TestService;
  let real: PkiRevocation;
  let request: Uint8Array;
  beforeAll(async () => {
    svc = await startPkiService('p256');
    real = pkiOf(svc);
    const leaf = await issueCertifiedCredential(svc, 'cred-starting');
    request = await ocspRequest(leaf, real.cas[0]!);
    // The window between listen and startPkiRevocation's end.
    svc.service.context.pkiRevocation!.current = undefined;
  }, 60_000);
  afterAll(async () => {
    if (svc !== undefined) svc.service.context.pkiRevocation!.current = real;
    await svc?.close();
  });

  const expectTryLater = async (reply: Response): Promise<void> => {
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toBe('application/ocsp-response');
    expect(reply.headers.get('cache-control')).toBe('no-store');
    // OCSPResponseStatus tryLater (3), unsigned (no responseBytes): RFC 6960 2.3.
    const response = pkijs.OCSPResponse.fromBER(new Uint8Array(await reply.arrayBuffer()));
    expect(response.responseStatus.valueBlock.valueDec).toBe(3);
    expect(response.responseBytes).toBeUndefined();
  };

  it('answers a POST tryLater', async () => {
    await expectTryLater(await fetch(`${svc.url}/pki/default/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from(request) }));
  });

  it('answers a GET tryLater', async () => {
    await expectTryLater(await fetch(`${svc.url}/pki/default/ocsp/${encodeURIComponent(Buffer.from(request).toString('base64'))}`));
  });
});
