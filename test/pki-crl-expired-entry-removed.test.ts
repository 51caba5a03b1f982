import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EntryBuffer } from '../adapters/runtime/pki-entry-buffer.ts';
import { openCredence, openDataFolderSecureEnvironment, startPkiRevocation, systemClock, systemRandom, type Credence, type PkiRevocation } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { certificateStanding } from '../projections/pki/index.ts';
import { operator } from './support/fleet.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { issueCertifiedCredentialWith, testCa, type TestLeaf } from './support/pki-test-ca.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const BASE_URL = 'http://127.0.0.1:9';

const crlNumberOf = (der: Uint8Array): number =>
  (pkijs.CertificateRevocationList.fromBER(Uint8Array.from(der)).crlExtensions!.extensions.find((e) => e.extnID === '2.5.29.20')!.parsedValue as {
    valueBlock: { valueDec: number };
  }).valueBlock.valueDec;

/**
 * RFC 5280 5.1.2.6: a CRL entry may be removed once the certificate has expired, after it has appeared on a
 * regularly scheduled CRL beyond its validity. The publisher's clock is moved forward (the clock port); the
 * schedule's tick issues the complete CRLs; `openssl crl -text` reads what relying parties would get.
 */
describe.skipIf(!hasOpenssl())('an expired certificate leaves the CRL after a CRL validity beyond its expiry (issue 13)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-pki-expiry-'));
  const files = new OpenSslDir('credence-crl-expiry-');
  let se: ReturnType<typeof openDataFolderSecureEnvironment>;
  let credence: Credence;
  let pki: PkiRevocation;
  let now = Date.now();
  let short: TestLeaf;
  let long: TestLeaf;

  beforeAll(async () => {
    se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
    credence = openCredence({ location: { memory: true }, clock: systemClock });
    const ca = await testCa('default', 'p256');
    files.write('ca.pem', ca.pem);
    pki = await startPkiRevocation({
      credence, cas: [ca], baseUrl: BASE_URL, se: ownerView(se, 'maf:infrastructure'), random: systemRandom, now: () => now, tickMs: 3_600_000,
    });
    short = await issueCertifiedCredentialWith(credence, ca, BASE_URL, 'cred-short', 'meter-1', { validityMs: HOUR });
    long = await issueCertifiedCredentialWith(credence, ca, BASE_URL, 'cred-long', 'meter-1', { validityMs: 30 * DAY });
    for (const credentialId of ['cred-short', 'cred-long']) {
      await credence.engine.execute(command('revokeCredential', { credentialId, reason: 'keyCompromise' }, { actor: operator }));
    }
    await credence.settle();
    await pki.crl('default')!.settled();
  }, 60_000);
  afterAll(async () => {
    pki?.stop();
    await credence?.close();
    se?.close();
    rmSync(dir, { recursive: true, force: true });
    files.remove();
  });

  /** The served complete CRL as `openssl crl -text` prints it (signature checked against the CA), and its number. */
  const crlText = async (name: string, kind: 'full' | 'delta' = 'full'): Promise<{ text: string; crlNumber: number }> => {
    const publisher = pki.crl('default')!;
    const { der } = kind === 'full' ? await publisher.full() : await publisher.delta();
    files.write(`${name}.pem`, pem('X509 CRL', der));
    const text = await files.ok(['crl', '-in', `${name}.pem`, '-CAfile', 'ca.pem', '-noout', '-text']);
    return { text, crlNumber: crlNumberOf(der) };
  };
  const listed = (text: string, leaf: TestLeaf): boolean => text.includes(`Serial Number: ${leaf.serialNumber.toUpperCase()}`);
  /** Moves the publisher's clock and runs the schedule once (what its timer does). */
  const tickAt = async (at: number): Promise<void> => {
    now = at;
    await pki.tick();
  };

  it('keeps both while valid, keeps the expired one for a CRL validity beyond its expiry, then drops it; OCSP still says revoked', async () => {
    const start = now;
    const numbers: number[] = [];
    const valid = await crlText('valid');
    expect(listed(valid.text, short)).toBe(true);
    expect(listed(valid.text, long)).toBe(true);
    numbers.push(valid.crlNumber);

    // The short certificate has expired; the next scheduled complete CRL (half a validity on) still lists it: the
    // first one beyond its expiry.
    expect(short.notAfter.getTime()).toBeLessThan(start + 13 * HOUR);
    await tickAt(start + 13 * HOUR);
    const firstBeyond = await crlText('first-beyond');
    expect(listed(firstBeyond.text, short)).toBe(true);
    expect(listed(firstBeyond.text, long)).toBe(true);
    numbers.push(firstBeyond.crlNumber);

    // Less than one CRL validity (24 h) after that one: still listed.
    await tickAt(start + 26 * HOUR);
    const stillThere = await crlText('still-there');
    expect(listed(stillThere.text, short)).toBe(true);
    numbers.push(stillThere.crlNumber);

    // A full validity after the first CRL beyond its expiry: gone; the valid certificate stays.
    await tickAt(start + 39 * HOUR);
    const removed = await crlText('removed');
    expect(listed(removed.text, short)).toBe(false);
    expect(listed(removed.text, long)).toBe(true);
    numbers.push(removed.crlNumber);
    expect(pki.crl('default')!.size).toBe(1);

    // The delta is on that complete CRL (its base): it announces no change, and lists neither.
    const delta = await crlText('delta', 'delta');
    expect(delta.text).toContain('Delta CRL Indicator');
    expect(delta.text).toContain(`${removed.crlNumber}`);
    expect(delta.text).toContain('No Revoked Certificates');
    numbers.push(delta.crlNumber);
    // CRL numbers kept increasing through the removal (RFC 5280 5.2.3).
    expect([...numbers].sort((a, b) => a - b)).toEqual(numbers);
    expect(new Set(numbers).size).toBe(numbers.length);

    // The revocation is still recorded: OCSP keeps answering revoked for the expired certificate (RFC 6960).
    expect(certificateStanding(credence.readModels, 'default', short.serialNumber).status).toBe('revoked');

    // A later revocation is still listed next to the valid one, and the expired entry does not come back.
    await tickAt(start + 52 * HOUR);
    const later = await crlText('later');
    expect(listed(later.text, short)).toBe(false);
    expect(listed(later.text, long)).toBe(true);
  }, 60_000);
});

describe('the entry buffer drops expired entries and keeps the others byte for byte', () => {
  const entry = (byte: number, length: number) => new Uint8Array(length).fill(byte);

  it('removes only entries first listed beyond expiry at least keepMs ago', () => {
    const buffer = new EntryBuffer();
    buffer.append(entry(1, 3), 1000); // expires at 1000
    buffer.append(entry(2, 5), 10_000); // valid throughout
    buffer.append(entry(3, 4), 2000); // expires at 2000
    expect(buffer.dropExpired(5000, 100)).toBe(0); // never listed beyond expiry yet
    buffer.markListed(1500); // entry 1 listed beyond expiry at 1500; entry 3 not expired then
    buffer.markListed(2500); // entry 3 at 2500; entry 1 keeps 1500
    expect(buffer.dropExpired(2499, 1000)).toBe(0);
    expect(buffer.dropExpired(2500, 1000)).toBe(1);
    expect([...buffer.from(0)]).toEqual([...entry(2, 5), ...entry(3, 4)]);
    expect(buffer.count).toBe(2);
    expect(buffer.dropExpired(3500, 1000)).toBe(1);
    expect([...buffer.from(0)]).toEqual([...entry(2, 5)]);
    buffer.append(entry(4, 2), 20_000);
    expect([...buffer.from(0)]).toEqual([...entry(2, 5), ...entry(4, 2)]);
    expect(buffer.length).toBe(7);
  });
});
