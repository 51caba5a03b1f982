import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileCrlBase } from '../adapters/driven/pki/crl-base.ts';
import type { CaId } from '../domain/x509/issuing-ca.ts';

/*
 * Review 157: the base file lists every serial the base listed, and was written at once on the request that moved the
 * base: for a million serials, seconds without an answer to any CRL or OCSP request. It is written a slice at a
 * time, between turns of the event loop, and reads back as written, its pending next base included.
 */

describe('a large CRL base is written between turns of the event loop and read back (review 157)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-crl-base-large-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lets other work run while 200,000 serials are written, and reads them back with the next base', async () => {
    const serials = Array.from({ length: 200_000 }, (_, i) => (0x10000000 + i).toString(16));
    const store = fileCrlBase(dir, 'default' as CaId);
    const base = { crlNumber: 41, keyId: 'ab12', serials: serials.slice(0, 150_000), next: { crlNumber: 42, takesOverAt: 1_796_000_000_000, serials: serials.slice(150_000) }, keyCompromise: serials.slice(0, 3) };
    let turns = 0;
    let done = false;
    const count = () => {
      if (done) return;
      turns++;
      setImmediate(count);
    };
    setImmediate(count);
    await store.save(base);
    done = true;
    expect(turns).toBeGreaterThan(5);
    expect(fileCrlBase(dir, 'default' as CaId).load()).toEqual(base);
    // Nothing left beside it: no temp file, nothing moved aside.
    expect(readdirSync(join(dir, 'pki'))).toEqual(['default.crl-base.json']);
  }, 60_000);
});
