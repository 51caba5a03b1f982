/**
 * Review 251: the PKI tick was not held by the WallClockGuard that holds the expiry lane (review 221). A wall clock
 * stepped ahead past a revoked certificate's notAfter made the next complete CRL mark its entry, and one CRL validity
 * later on that wrong clock drop it; once the clock was corrected, the CRLs still left out a certificate valid for
 * weeks and revoked keyCompromise, which relying parties that check only CRLs then accept. Now an entry is marked
 * and dropped only on a clock the live runtime's guard trusts, and a clock found behind a mark (stepped back) takes
 * back every mark later than it: the entry is listed again and the deltas take a new base. `openssl crl -text`
 * reads what relying parties get. Modelled on pki-crl-expired-entry-removed.test.ts.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openCredence,
  openDataFolderSecureEnvironment,
  startLive,
  startPkiRevocation,
  systemClock,
  systemRandom,
  type Clock,
  type Credence,
  type LiveRuntime,
  type PkiRevocation,
} from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import type { IssuingCa } from '../domain/x509/issuing-ca.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { closePkiInstance, crlNumberOf, revokeAndSettleOn } from './support/pki-instance.ts';
import { issueCertifiedCredentialWith, testCa, type TestLeaf } from './support/pki-test-ca.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const BASE_URL = 'http://127.0.0.1:9';

/** One instance's CA, its publisher's clock, and `openssl crl -text` of what it serves. */
const pkiFixture = (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), `credence-${name}-`));
  const files = new OpenSslDir(`credence-${name}-`);
  const state = {
    now: Date.now(),
    se: undefined as ReturnType<typeof openDataFolderSecureEnvironment> | undefined,
    ca: undefined as (IssuingCa & { readonly pem: string }) | undefined,
    credence: undefined as Credence | undefined,
    pki: undefined as PkiRevocation | undefined,
  };
  const startPki = async (credence: Credence): Promise<PkiRevocation> => {
    state.credence = credence;
    state.pki = await startPkiRevocation({
      credence, cas: [state.ca!], baseUrl: BASE_URL, dataDir: dir, se: ownerView(state.se!, 'maf:infrastructure'), random: systemRandom, now: () => state.now, tickMs: 3_600_000,
    });
    return state.pki;
  };
  const setUp = async (): Promise<void> => {
    state.se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
    state.ca = await testCa('default', 'p256');
    files.write('ca.pem', state.ca.pem);
  };
  /** The served CRL as `openssl crl -text` prints it (signature checked against the CA), its number and base. */
  const crlText = async (label: string, kind: 'full' | 'delta' = 'full'): Promise<{ text: string; crlNumber: number; base?: number }> => {
    const publisher = state.pki!.crl('default')!;
    const { der } = kind === 'full' ? await publisher.full() : await publisher.delta();
    files.write(`${label}.pem`, pem('X509 CRL', der));
    const text = await files.ok(['crl', '-in', `${label}.pem`, '-CAfile', 'ca.pem', '-noout', '-text']);
    return { text, crlNumber: crlNumberOf(der), ...(kind === 'delta' ? { base: crlNumberOf(der, true) } : {}) };
  };
  /** Moves the publisher's clock and runs the schedule once (what its timer does). */
  const tickAt = async (at: number): Promise<void> => {
    state.now = at;
    await state.pki!.tick();
  };
  const close = () => closePkiInstance({ pki: state.pki, credence: state.credence, se: state.se, dir, files });
  /**
   * Set up, the PKI started on the instance `open` gives (one on the system clock over the folder unless given), and
   * a 30-day leaf issued and revoked keyCompromise.
   */
  const revokedLeaf = async (open: () => Promise<Credence> = async () => openCredence({ location: { dir }, clock: systemClock })): Promise<TestLeaf> => {
    await setUp();
    const credence = await open();
    await startPki(credence);
    const leaf = await issueCertifiedCredentialWith(credence, state.ca!, BASE_URL, 'cred-30d', 'meter-1', { validityMs: 30 * DAY });
    await revokeAndSettleOn(credence, state.pki!, [['cred-30d', 'keyCompromise']]);
    return leaf;
  };
  return { dir, state, setUp, startPki, crlText, tickAt, close, revokedLeaf };
};

const listed = (text: string, leaf: TestLeaf): boolean => text.includes(`Serial Number: ${leaf.serialNumber.toUpperCase()}`);

describe.skipIf(!hasOpenssl())('a CRL entry dropped on a clock stepped ahead is listed again once the clock is stepped back (review 251)', () => {
  const f = pkiFixture('crl-step-back');
  let leaf: TestLeaf;

  beforeAll(async () => {
    leaf = await f.revokedLeaf();
  }, 60_000);
  afterAll(() => f.close());

  it('lists it on the complete CRL and the deltas (on a new base) after the correction, and after a restart', async () => {
    const start = f.state.now;
    expect(listed((await f.crlText('start')).text, leaf)).toBe(true);
    // The clock stepped 40 days ahead (no live runtime judges it here): marked, then dropped a validity later.
    await f.tickAt(start + 40 * DAY);
    expect(listed((await f.crlText('ahead-40d')).text, leaf)).toBe(true);
    await f.tickAt(start + 41 * DAY);
    const dropped = await f.crlText('ahead-41d');
    expect(listed(dropped.text, leaf)).toBe(false);

    // Corrected: the certificate is valid for four more weeks and revoked keyCompromise.
    await f.tickAt(start + 2 * HOUR);
    const full = await f.crlText('corrected');
    expect(listed(full.text, leaf)).toBe(true);
    // A relying party holding the CRL signed on the wrong clock (which left the entry out) must not combine it with
    // a delta: the deltas' base is a complete CRL signed after the correction.
    const delta = await f.crlText('corrected-delta', 'delta');
    expect(delta.base).toBeGreaterThan(dropped.crlNumber);
    expect(listed((await f.crlText('corrected-full-again')).text, leaf)).toBe(true);
    // No mark later than the clock stays on disk.
    const marks = readFileSync(join(f.dir, 'pki', 'default.crl-expiry.json'), 'utf8');
    expect(marks).not.toContain(leaf.serialNumber);

    // A restart keeps it listed, and it leaves on the schedule of the right clock.
    f.state.pki!.stop();
    await f.state.credence!.close();
    const credence = openCredence({ location: { dir: f.dir }, clock: systemClock });
    await credence.settle();
    await f.startPki(credence);
    expect(listed((await f.crlText('restarted')).text, leaf)).toBe(true);
    await f.tickAt(start + 30 * DAY + HOUR);
    expect(listed((await f.crlText('first-beyond')).text, leaf)).toBe(true);
    await f.tickAt(start + 31 * DAY + 2 * HOUR);
    expect(listed((await f.crlText('left')).text, leaf)).toBe(false);
  }, 60_000);
});

describe.skipIf(!hasOpenssl())('a restart on the corrected clock lists an entry dropped on a clock stepped ahead (review 251)', () => {
  const f = pkiFixture('crl-step-back-restart');
  let leaf: TestLeaf;

  beforeAll(async () => {
    leaf = await f.revokedLeaf();
  }, 60_000);
  afterAll(() => f.close());

  it('reads it again from the event log, and keeps no mark later than the clock', async () => {
    const start = f.state.now;
    await f.crlText('start');
    await f.tickAt(start + 40 * DAY);
    await f.tickAt(start + 41 * DAY);
    expect(listed((await f.crlText('ahead-41d')).text, leaf)).toBe(false);
    f.state.pki!.stop();
    await f.state.credence!.close();
    f.state.now = start + 2 * HOUR;
    const credence = openCredence({ location: { dir: f.dir }, clock: systemClock });
    await credence.settle();
    await f.startPki(credence);
    expect(listed((await f.crlText('restarted')).text, leaf)).toBe(true);
    await f.state.pki!.crl('default')!.settled();
    expect(readFileSync(join(f.dir, 'pki', 'default.crl-expiry.json'), 'utf8')).not.toContain(leaf.serialNumber);
  }, 60_000);
});

describe.skipIf(!hasOpenssl())("an entry leaves the CRL only on a clock the live runtime's guard trusts (review 251)", () => {
  const f = pkiFixture('crl-guarded');
  let monotonic = 1_000;
  let live: LiveRuntime;
  let leaf: TestLeaf;

  beforeAll(async () => {
    leaf = await f.revokedLeaf(async () => {
      // The service's clock, read by the engine, the live runtime's guard and the publisher alike (adapters/http/start.ts).
      const clock: Clock = { now: () => new Date(f.state.now) };
      const credence = openCredence({ location: { memory: true }, clock });
      live = startLive(credence, { tickMs: 3_600_000, monotonicNow: () => monotonic });
      await live.start();
      return credence;
    });
  }, 60_000);
  afterAll(async () => {
    await live.stop();
    await f.close();
  });

  it('keeps it listed through a clock stepped 41 days ahead and back, and drops it once that much time has passed', async () => {
    const start = f.state.now;
    await f.crlText('start');
    // The wall clock alone is stepped: the guard does not trust it, the entry is neither marked nor dropped.
    await f.tickAt(start + 40 * DAY);
    expect(listed((await f.crlText('ahead-40d')).text, leaf)).toBe(true);
    await f.tickAt(start + 41 * DAY);
    expect(listed((await f.crlText('ahead-41d')).text, leaf)).toBe(true);
    await f.tickAt(start + 2 * HOUR);
    expect(listed((await f.crlText('corrected')).text, leaf)).toBe(true);
    // Time really passes (the monotonic clock with it): the entry leaves on its schedule.
    monotonic += 40 * DAY;
    await f.tickAt(start + 40 * DAY);
    expect(listed((await f.crlText('elapsed-40d')).text, leaf)).toBe(true);
    monotonic += DAY + 2 * HOUR;
    await f.tickAt(start + 41 * DAY + 2 * HOUR);
    expect(listed((await f.crlText('elapsed-41d')).text, leaf)).toBe(false);
  }, 60_000);
});
