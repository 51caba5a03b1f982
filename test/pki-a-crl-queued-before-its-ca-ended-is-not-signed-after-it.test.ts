import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DAY, FakeClock } from '../adapters/driven/clock/index.ts';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { chainValidity } from '../domain/x509/issuance/index.ts';
import type { IssuingCa, X509Signer } from '../domain/x509/issuing-ca.ts';
import { issueCertifiedCredentialWith, pkiOf, revokeAndSettle } from './support/pki-test-ca.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 85, finding 3: a CRL request already in flight when its CA's chain ended still signed. The route took the
 * publisher, then awaited full(), queued behind a tick or a slow HSM signature; the tick's retirement only stopped
 * the publisher's timers, so the queued job signed a CRL whose thisUpdate was after the CA's end. The publisher now
 * refuses, inside the queued job, once stopped or once the chain has ended, and the route answers that 410 ca_ended.
 */
const SUB = 'sub-1';

/** A data folder with CA `default` (10 years) and CA `sub-1` (2 days), both from `now`. */
const folderWithTwoCas = async (now: Date): Promise<string> => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-crl-in-flight-'));
  const se = openDataFolderSecureEnvironment(dir, { now: () => now });
  try {
    const infra = ownerView(se, 'maf:infrastructure');
    await createRootCa({ dataDir: dir, se: infra, id: 'default', kind: 'p256', now, random: systemRandom });
    await createRootCa({ dataDir: dir, se: infra, id: SUB, kind: 'p256', now, random: systemRandom, validityDays: 2 });
  } finally {
    se.close();
  }
  return dir;
};

/**
 * Counts the signatures `ca` makes and when each began (the fake clock's time), and holds each one until `release`
 * while `hold` is set: an HSM that is slow to answer.
 */
const watchSignatures = (ca: IssuingCa, clock: FakeClock) => {
  // The signer is frozen; the CA object the publisher holds is not: its signer is swapped for one that watches.
  const signer = ca.signer;
  const started: number[] = [];
  let gate: Promise<void> | undefined;
  let open = (): void => undefined;
  let signing = (): void => undefined;
  const held = new Promise<void>((resolve) => (signing = resolve));
  const watched: X509Signer = {
    kind: signer.kind,
    publicKey: signer.publicKey,
    sign: async (tbs) => {
      started.push(clock.now().getTime());
      if (gate !== undefined) {
        signing();
        await gate;
      }
      return signer.sign(tbs);
    },
  };
  (ca as { signer: X509Signer }).signer = watched;
  return {
    started,
    hold: (): void => void (gate = new Promise<void>((resolve) => (open = resolve))),
    held,
    release: (): void => {
      gate = undefined;
      open();
    },
  };
};

describe('a CRL request in flight when its CA ends', () => {
  let svc: TestService | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await svc?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    svc = undefined;
    dir = undefined;
  });

  const start = async (): Promise<{ clock: FakeClock; ca: IssuingCa; endsAt: number }> => {
    const clock = new FakeClock(new Date());
    dir = await folderWithTwoCas(clock.now());
    svc = await startTestService({ dir, clock });
    const ca = pkiOf(svc).cas.find((c) => c.id === SUB)!;
    await issueCertifiedCredentialWith(svc.service.context.credence, ca, svc.url, 'cred-late', 'meter-1', { validityMs: DAY });
    return { clock, ca, endsAt: chainValidity(ca).notAfter.getTime() };
  };

  it('is refused by a publisher taken before the tick retired its CA: full() and delta() sign nothing after the end', async () => {
    const { clock, ca, endsAt } = await start();
    // Given the publisher a request took while the CA was live, and a revocation that makes its complete CRL due.
    const publisher = pkiOf(svc!).crl(SUB)!;
    await revokeAndSettle(svc!, 'cred-late');
    await publisher.settled();
    const signatures = watchSignatures(ca, clock);

    // When the CA ends and a tick retires it.
    clock.advance(3 * DAY);
    await pkiOf(svc!).tick();
    expect(pkiOf(svc!).crl(SUB)).toBeUndefined();

    // Then the publisher taken before refuses, naming the rule and when the CA ended, and signed nothing.
    const refusal = { name: 'CrlNotSigned', code: 'ca_ended', caId: SUB, endedAt: new Date(endsAt) };
    await expect(publisher.full()).rejects.toMatchObject(refusal);
    await expect(publisher.delta()).rejects.toMatchObject(refusal);
    await publisher.tick();
    expect(signatures.started).toEqual([]);
    expect(svc!.logs().filter((l) => l.includes('PKI revocation failed'))).toEqual([]);
  }, 60_000);

  it('queued behind a slow signature while the CA ends is answered 410 ca_ended, not a CRL signed after the end', async () => {
    const { clock, ca, endsAt } = await start();
    const publisher = pkiOf(svc!).crl(SUB)!;
    // Given a CRL signature the HSM holds (the delta of a revocation), and a request for the complete CRL queued
    // behind it once the route has taken the publisher.
    const signatures = watchSignatures(ca, clock);
    signatures.hold();
    await revokeAndSettle(svc!, 'cred-late');
    await signatures.held;
    let queued = (): void => undefined;
    const entered = new Promise<void>((resolve) => (queued = resolve));
    const full = publisher.full.bind(publisher);
    publisher.full = () => {
      queued();
      return full();
    };
    const answer = fetch(`${svc!.url}/pki/${SUB}/crl`);
    await entered;

    // When the CA ends while the signature is held, and the HSM answers then.
    clock.advance(3 * DAY);
    signatures.release();

    // Then nothing is signed that began after the end, and the request is told the CA ended.
    const reply = await answer;
    expect(reply.status).toBe(410);
    expect(await reply.json()).toMatchObject({ type: expect.stringMatching(/\/ca_ended$/), caId: SUB, endedAt: new Date(endsAt).toISOString() });
    expect(reply.headers.get('cache-control')).toBe('no-store');
    expect(signatures.started.filter((at) => at >= endsAt)).toEqual([]);
  }, 60_000);

  it('of a live CA whose publisher was stopped (the service stopping) is refused for now, 503 with Retry-After, never signed', async () => {
    const { clock } = await start();
    const live = pkiOf(svc!).cas.find((c) => c.id === 'default')!;
    const publisher = pkiOf(svc!).crl('default')!;
    const signatures = watchSignatures(live, clock);
    publisher.stop();

    await expect(publisher.full()).rejects.toMatchObject({ name: 'CrlNotSigned', code: 'publisher_stopped', caId: 'default' });
    const reply = await fetch(`${svc!.url}/pki/default/crl`);
    expect(reply.status).toBe(503);
    expect(reply.headers.get('retry-after')).not.toBeNull();
    expect(reply.headers.get('cache-control')).toBe('no-store');
    expect(signatures.started).toEqual([]);
  }, 60_000);
});
