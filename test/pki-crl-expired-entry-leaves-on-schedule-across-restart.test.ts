import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileCrlExpiryMarks } from '../adapters/driven/pki/crl-expiry-marks.ts';
import { openCredence, openDataFolderSecureEnvironment, startPkiRevocation, systemClock, systemRandom, type Credence, type PkiRevocation } from '../adapters/runtime/index.ts';
import { CredenceError } from '../domain/errors.ts';
import { ownerView } from '../domain/ports/index.ts';
import { CaId, type IssuingCa } from '../domain/x509/issuing-ca.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { closePkiInstance, crlNumberOf, revokeAndSettleOn } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa, type TestLeaf } from './support/pki-test-ca.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const BASE_URL = 'http://127.0.0.1:9';

/**
 * Issue 13 left: which expired, revoked certificates had been listed on a complete CRL beyond their expiry was kept
 * in memory only, so after a restart they stayed on the CRLs for another validity (RFC 5280 5.1.2.6 lets them leave
 * one validity after the first such CRL). The marks now live in `<data>/pki/<ca>.crl-expiry.json`, saved once the
 * CRL that sets them is signed. The service is restarted (the instance and the publisher, on the same data folder)
 * between the first CRL beyond the expiry and the next; `openssl crl -text` reads what relying parties get.
 */
describe.skipIf(!hasOpenssl())('an expired entry leaves the CRL on schedule across a restart (issue 13, left)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-pki-expiry-restart-'));
  const files = new OpenSslDir('credence-crl-expiry-restart-');
  let se: ReturnType<typeof openDataFolderSecureEnvironment>;
  let ca: IssuingCa & { readonly pem: string };
  let credence: Credence | undefined;
  let pki: PkiRevocation | undefined;
  let now = Date.now();
  let signerAway = false;
  const errors: unknown[] = [];
  let short: TestLeaf;
  let long: TestLeaf;
  /** Issued before the restarts (the helper sets the fleet up once per instance), revoked after them. */
  let later: TestLeaf;
  const marksPath = join(dir, 'pki', 'default.crl-expiry.json');

  const start = async (): Promise<{ credence: Credence; pki: PkiRevocation }> => {
    credence = openCredence({ location: { dir }, clock: systemClock });
    await credence.settle();
    pki = await startPkiRevocation({
      credence, cas: [ca], baseUrl: BASE_URL, dataDir: dir, se: ownerView(se, 'maf:infrastructure'), random: systemRandom, now: () => now, tickMs: 3_600_000,
      onError: (_component, error) => errors.push(error),
    });
    return { credence, pki };
  };
  const restart = async (): Promise<void> => {
    pki?.stop();
    await credence?.close();
    await start();
  };

  beforeAll(async () => {
    se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
    const plain = await testCa('default', 'p256');
    ca = { ...plain, signer: { ...plain.signer, sign: (tbs) => (signerAway ? Promise.reject(new Error('the HSM is away')) : plain.signer.sign(tbs)) } };
    files.write('ca.pem', ca.pem);
    const { credence: c, pki: p } = await start();
    short = await issueCertifiedCredentialWith(c, ca, BASE_URL, 'cred-short', 'meter-1', { validityMs: HOUR });
    long = await issueCertifiedCredentialWith(c, ca, BASE_URL, 'cred-long', 'meter-1', { validityMs: 30 * DAY });
    later = await issueCertifiedCredentialWith(c, ca, BASE_URL, 'cred-later', 'meter-1', { validityMs: 30 * DAY });
    await revokeAndSettleOn(c, p, [['cred-short', 'keyCompromise'], ['cred-long', 'keyCompromise']]);
  }, 60_000);
  afterAll(() => closePkiInstance({ pki, credence, se, dir, files }));

  const crlText = async (name: string, kind: 'full' | 'delta' = 'full'): Promise<{ text: string; crlNumber: number; base?: number }> => {
    const publisher = pki!.crl('default')!;
    const { der } = kind === 'full' ? await publisher.full() : await publisher.delta();
    files.write(`${name}.pem`, pem('X509 CRL', der));
    const text = await files.ok(['crl', '-in', `${name}.pem`, '-CAfile', 'ca.pem', '-noout', '-text']);
    return { text, crlNumber: crlNumberOf(der), ...(kind === 'delta' ? { base: crlNumberOf(der, true) } : {}) };
  };
  const listed = (text: string, leaf: TestLeaf): boolean => text.includes(`Serial Number: ${leaf.serialNumber.toUpperCase()}`);
  const tickAt = async (at: number): Promise<void> => {
    now = at;
    await pki!.tick();
  };

  it('keeps the mark of the first CRL beyond expiry through a restart, so the entry leaves a validity after it, and stays off', async () => {
    const t0 = now;
    const numbers: number[] = [];
    const valid = await crlText('valid');
    expect(listed(valid.text, short) && listed(valid.text, long)).toBe(true);
    numbers.push(valid.crlNumber);
    expect(existsSync(marksPath)).toBe(false);

    // The complete CRL due at 13 h cannot be signed: no mark may be kept for a CRL that does not exist.
    signerAway = true;
    await tickAt(t0 + 13 * HOUR);
    signerAway = false;
    expect(errors.map(String).join()).toContain('the HSM is away');
    expect(existsSync(marksPath)).toBe(false);

    // Signed at 14 h: the first complete CRL beyond the short certificate's expiry. Its mark is on disk.
    await tickAt(t0 + 14 * HOUR);
    const firstBeyond = await crlText('first-beyond');
    expect(listed(firstBeyond.text, short)).toBe(true);
    numbers.push(firstBeyond.crlNumber);
    const marks = fileCrlExpiryMarks(dir, CaId.parse('default')).load();
    expect([...marks]).toEqual([[short.serialNumber, Math.floor((t0 + 14 * HOUR) / 1000) * 1000]]);

    // Restart 20 h in: the first CRL after it still lists the entry (within a validity of 14 h)...
    now = t0 + 20 * HOUR;
    await restart();
    const afterRestart = await crlText('after-restart');
    expect(listed(afterRestart.text, short)).toBe(true);
    expect(listed(afterRestart.text, long)).toBe(true);
    numbers.push(afterRestart.crlNumber);

    // ...and the first complete CRL a validity after 14 h drops it (38 h). Kept in memory only, the mark would have
    // been the restart's CRL (20 h), and the entry listed until 44 h or later.
    await tickAt(t0 + 26 * HOUR);
    expect(listed((await crlText('26h')).text, short)).toBe(true);
    await tickAt(t0 + 38 * HOUR);
    const removed = await crlText('removed');
    expect(listed(removed.text, short)).toBe(false);
    expect(listed(removed.text, long)).toBe(true);
    numbers.push(removed.crlNumber);
    // The deltas keep their base across the restart (review 148): the first start's complete CRL, before the
    // revocations; the dropped entry leaves them too.
    const delta = await crlText('delta-after-removal', 'delta');
    expect(delta.base).toBeLessThan(valid.crlNumber);
    expect(listed(delta.text, short)).toBe(false);
    expect(listed(delta.text, long)).toBe(true);
    // Signed with `removed` on the schedule: its number (RFC 5280 5.2.3, review 312).
    expect(delta.crlNumber).toBe(removed.crlNumber);

    // Another restart: the revocation is read again from the read model, and its mark keeps it off the list.
    now = t0 + 40 * HOUR;
    await restart();
    const again = await crlText('again');
    expect(listed(again.text, short)).toBe(false);
    expect(listed(again.text, long)).toBe(true);
    numbers.push(again.crlNumber);

    // Deltas stay consistent: a new revocation is on the delta, still on the base kept across both restarts.
    await revokeAndSettleOn(credence!, pki!, [['cred-later', 'keyCompromise']]);
    const laterDelta = await crlText('later-delta', 'delta');
    expect(laterDelta.base).toBe(delta.base);
    expect(listed(laterDelta.text, later)).toBe(true);
    expect(listed(laterDelta.text, short)).toBe(false);
    numbers.push(laterDelta.crlNumber);
    const laterFull = await crlText('later-full');
    expect(listed(laterFull.text, later) && listed(laterFull.text, long)).toBe(true);
    expect(listed(laterFull.text, short)).toBe(false);
    numbers.push(laterFull.crlNumber);

    // CRL numbers strictly increased throughout, across both restarts, but for a delta signed with a complete CRL (RFC 5280 5.2.3).
    expect([...numbers].sort((a, b) => a - b)).toEqual(numbers);
    expect(new Set(numbers).size).toBe(numbers.length);
  }, 120_000);

  it('refuses to start on a marks file that does not parse, naming it', async () => {
    pki?.stop();
    await credence?.close();
    const kept = readFileSync(marksPath, 'utf8');
    writeFileSync(marksPath, JSON.stringify({ version: 1, caId: 'default', listedBeyondExpiry: [['NOT-HEX', 1]] }));
    const refused = await start().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(CredenceError);
    expect(String((refused as Error).message)).toContain('default.crl-expiry.json');
    expect((refused as CredenceError).problem.code).toBe('validation');
    pki = undefined;
    writeFileSync(marksPath, kept);
    await credence?.close();
    credence = undefined;
  }, 60_000);
});
