import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requestIntermediateCa } from '../adapters/driven/pki/create.ts';
import { OcspSigningKey } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import type { CaId, IssuingCa } from '../domain/x509/issuing-ca.ts';
import { memorySecureEnvironment } from './crypto-fixtures.ts';
import { testCa } from './support/pki-test-ca.ts';
import { refusingDestroy } from './support/refusing-destroy.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 53 finding 4: a destroy the Secure Environment refused was swallowed and the handle dropped, leaving the key
 * held and named by nothing: `ca init` after a refused init, the OCSP signer after a renewal or a new CA certificate.
 */
const DAY = 86_400_000;
const folder = temporaryFolders('credence-pki-destroy-refused-');

const world = () => {
  let now = Date.now();
  const raw = memorySecureEnvironment('pki-destroy-refused', () => new Date(now));
  const se = refusingDestroy(ownerView(raw, 'maf:infrastructure'));
  return { se, now: () => now, advance: (ms: number) => (now += ms) };
};

describe('a PKI key whose destroy the Secure Environment refuses stays named', () => {
  it('ca init: the refused init names the key it leaves in the Secure Environment', async () => {
    const w = world();
    w.se.refuse();
    const error = await requestIntermediateCa({
      dataDir: folder(),
      se: w.se.se,
      id: 'default' as CaId,
      kind: 'p256',
      now: new Date(w.now()),
      random: systemRandom,
      deliver: () => {
        throw new Error('--csr-out: cannot write (simulated)');
      },
    }).catch((e: unknown) => e);
    const [key] = w.se.made;
    expect(await w.se.held(key!)).toBe(true);
    expect((error as Error).message).toContain('--csr-out: cannot write');
    expect((error as Error).message).toContain(`the key ${key} made for CA default is left in the Secure Environment`);
  });

  it('ca init: a refused init whose key is destroyed answers its own refusal alone', async () => {
    const w = world();
    const deliver = () => {
      throw new Error('--csr-out: cannot write (simulated)');
    };
    const error = await requestIntermediateCa({ dataDir: folder(), se: w.se.se, id: 'default' as CaId, kind: 'p256', now: new Date(w.now()), random: systemRandom, deliver }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('--csr-out: cannot write (simulated)');
    expect(await w.se.held(w.se.made[0]!)).toBe(false);
  });

  const ocsp = async () => {
    const w = world();
    const dataDir = folder();
    const ca = await testCa('default', 'p256', w.now());
    const open = (which: IssuingCa = ca) => OcspSigningKey.open({ dataDir, se: w.se.se, ca: which, random: systemRandom, now: w.now });
    const onDisk = () => JSON.parse(readFileSync(join(dataDir, 'pki', 'default.ocsp.json'), 'utf8')) as { keyHandle: string; retired: string[] };
    const heldUnnamed = async () => {
      const file = onDisk();
      const named = new Set([file.keyHandle, ...file.retired]);
      const held = await Promise.all(w.se.made.map(async (h) => ((await w.se.held(h)) && !named.has(h) ? [h] : [])));
      return held.flat();
    };
    return { w, open, onDisk, heldUnnamed };
  };

  it('OCSP renewal: a retired key the Secure Environment will not destroy stays retired, and a later renewal destroys it', async () => {
    const { w, open, onDisk, heldUnnamed } = await ocsp();
    const signer = await open();
    w.advance(5 * DAY);
    await signer.renew();
    const [retired] = onDisk().retired;
    const current = onDisk().keyHandle;

    w.se.refuse();
    w.advance(5 * DAY);
    await signer.renew();
    expect(w.se.refused).toEqual([retired]);
    expect(await w.se.held(retired!)).toBe(true);
    expect(onDisk().retired).toEqual([retired, current]);
    expect(await heldUnnamed()).toEqual([]);

    w.se.refuse(false);
    w.advance(5 * DAY);
    await signer.renew();
    expect(await w.se.held(retired!)).toBe(false);
    expect(await w.se.held(current)).toBe(false);
    expect(await heldUnnamed()).toEqual([]);
  });

  it('OCSP with a new CA certificate: the keys it could not destroy stay retired in the file', async () => {
    const { w, open, onDisk, heldUnnamed } = await ocsp();
    const first = await open();
    w.advance(5 * DAY);
    await first.renew();
    const old = onDisk();

    w.se.refuse();
    await open(await testCa('default', 'p256', w.now()));
    expect(onDisk().retired.sort()).toEqual([...old.retired, old.keyHandle].sort());
    expect(await heldUnnamed()).toEqual([]);

    w.se.refuse(false);
    const again = await open(await testCa('default', 'p256', w.now()));
    w.advance(5 * DAY);
    await again.renew();
    for (const h of [...old.retired, old.keyHandle]) expect(await w.se.held(h)).toBe(false);
    expect(await heldUnnamed()).toEqual([]);
  });
});
