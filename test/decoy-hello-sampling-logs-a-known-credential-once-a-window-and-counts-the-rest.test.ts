import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { decoyHelloSampler, MAX_CREDENTIALS_COUNTED_PER_WINDOW } from '../adapters/http/decoy-hello-sampling.ts';
import { MAX_REFUSALS_LOGGED_PER_WINDOW, REFUSALS_LOGGED_PER_ADDRESS } from '../adapters/http/refusal-sampling.ts';

/*
 * Review 448: the decoy hello sampler (adapters/http/decoy-hello-sampling.ts). A credential the store knows
 * (revoked, expired, ...) is logged whole the first time in a window for each step, reason and credential, then
 * counted in one line naming them; strangers' made-up credentials (`unknown_credential`) are sampled per address with
 * bounds of their own, and spending them hides no known credential's line.
 */

const recorder = () => {
  const written: { fields: Record<string, unknown>; msg: string }[] = [];
  const log = { info: (fields: Record<string, unknown>, msg: string) => written.push({ fields, msg }) } as unknown as FastifyBaseLogger;
  return { written, log };
};

const revoked = { step: 'provisioning.hello', reason: 'credential_revoked', address: '192.0.2.50', credential: { nodeId: 'node-1', fingerprint: 'sha256:aa' } };
const stranger = (i: number, address: string) => ({
  step: 'provisioning.hello', reason: 'unknown_credential', address, credential: { nodeId: `zz-${i}`, fingerprint: `sha256:${i}` },
});

describe('the decoy hello sampler', () => {
  it('logs a known credential whole once a window, then counts it in one line naming it, whatever strangers sent', () => {
    let at = 0;
    const { written, log } = recorder();
    const sampler = decoyHelloSampler({ windowMs: 60_000, log: () => log, now: () => at });
    // Strangers spend every budget the strangers' sampler has, from the device's address too.
    let i = 0;
    for (let a = 0; a < 20; a++) for (let k = 0; k < REFUSALS_LOGGED_PER_ADDRESS; k++) sampler.logs(stranger(i++, `198.51.100.${a}`));
    expect(sampler.logs(stranger(i++, revoked.address))).toBe(false);
    expect(i).toBeGreaterThan(MAX_REFUSALS_LOGGED_PER_WINDOW);
    // The revoked credential: whole the first time, counted after; another reason of it whole too.
    expect(sampler.logs(revoked)).toBe(true);
    expect(sampler.logs(revoked)).toBe(false);
    expect(sampler.logs({ ...revoked, address: '203.0.113.1' })).toBe(false);
    expect(sampler.logs({ ...revoked, reason: 'credential_expired' })).toBe(true);
    expect(sampler.logs({ ...revoked, step: 'association.hello', credential: { registreeId: 'node-1', fingerprint: 'sha256:aa' } })).toBe(true);
    sampler.flush();
    expect(written.filter((w) => w.fields['reason'] === 'credential_revoked')).toEqual([
      { msg: 'decoy hellos not logged', fields: { step: 'provisioning.hello', reason: 'credential_revoked', nodeId: 'node-1', fingerprint: 'sha256:aa', suppressed: 2, windowMs: 60_000 } },
    ]);
    // A new window: the credential is logged whole again.
    at += 60_000;
    expect(sampler.logs(revoked)).toBe(true);
  });

  it("samples per address a certificate mismatch, which a real manufacturer chain under made-up Node-IDs gets, so it hides no revoked credential's line (review 455)", () => {
    const { written, log } = recorder();
    const sampler = decoyHelloSampler({ windowMs: 60_000, log: () => log, now: () => 0 });
    const mismatch = (i: number, address: string) => ({ ...stranger(i, address), reason: 'credential_mismatch' });
    let whole = 0;
    for (let i = 0; i < 12_000; i++) if (sampler.logs(mismatch(i, `198.51.100.${i % 10}`))) whole++;
    expect(whole).toBe(10 * REFUSALS_LOGGED_PER_ADDRESS);
    expect(sampler.logs(revoked)).toBe(true);
    sampler.flush();
    expect(written.some((w) => w.fields['credential'] === 'others')).toBe(false);
  });

  it('counts apart at most MAX_CREDENTIALS_COUNTED_PER_WINDOW credentials a window, the rest in one line', () => {
    const { written, log } = recorder();
    const sampler = decoyHelloSampler({ windowMs: 60_000, log: () => log, now: () => 0 });
    const known = (n: number) => ({ ...revoked, credential: { nodeId: `node-${n}`, fingerprint: 'sha256:aa' } });
    for (let n = 0; n < MAX_CREDENTIALS_COUNTED_PER_WINDOW; n++) expect(sampler.logs(known(n))).toBe(true);
    expect(sampler.logs(known(MAX_CREDENTIALS_COUNTED_PER_WINDOW))).toBe(false);
    expect(sampler.logs(known(MAX_CREDENTIALS_COUNTED_PER_WINDOW + 1))).toBe(false);
    expect(sampler.logs(known(0))).toBe(false);
    sampler.flush();
    expect(written.map((w) => w.fields)).toEqual([
      expect.objectContaining({ nodeId: 'node-0', suppressed: 1 }),
      { credential: 'others', credentialsCountedApart: MAX_CREDENTIALS_COUNTED_PER_WINDOW, suppressed: 2, windowMs: 60_000 },
    ]);
  });
});
