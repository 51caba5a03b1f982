import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PublicationUnrecorded, type PkiRevocation } from '../adapters/runtime/index.ts';
import { pkiOf, startPkiService } from './support/pki-test-ca.ts';
import type { TestService } from './support/service.ts';

/*
 * A CRL asked for while the revocations to list cannot be recorded as published (a full disk) and no CRL was issued
 * before: the CRL publisher refuses with PublicationUnrecorded (test/pki-published-revocations-are-kept-on-disk.test.ts),
 * which the distribution point answers as a 503 a relying party retries, not a 500, and without the cause's path.
 */
describe('the CRL routes while revocations cannot be recorded as published', () => {
  let svc: TestService;
  let real: PkiRevocation;
  beforeAll(async () => {
    svc = await startPkiService('p256');
    real = pkiOf(svc);
    const refusing = { full: () => Promise.reject(new PublicationUnrecorded(new Error("ENOSPC: no space left on device, write '/srv/credence/pki/default.published.jsonl'"))) };
    const crl = (caId: string) => ({ ...refusing, delta: refusing.full, caId }) as unknown as ReturnType<PkiRevocation['crl']>;
    svc.service.context.pkiRevocation!.current = { ...real, crl };
  }, 60_000);
  afterAll(async () => {
    svc.service.context.pkiRevocation!.current = real;
    await svc?.close();
  });

  for (const path of ['/pki/default/crl', '/pki/default/delta-crl']) {
    it(`${path}: 503 publication_unrecorded with Retry-After, naming no path`, async () => {
      const reply = await fetch(`${svc.url}${path}`);
      expect(reply.status).toBe(503);
      expect(reply.headers.get('retry-after')).toBe('5');
      const body = (await reply.json()) as { type: string; detail: string };
      expect(body.type).toBe('https://credence.dev/problems/publication_unrecorded');
      expect(body.detail).toBe('revocations could not be recorded as published yet; the CRL is issued once they are');
      expect(JSON.stringify(body)).not.toContain('/srv/credence');
    });
  }
});
