/**
 * Review 332: while the token was away, every operation's recovery ran C_Finalize and C_Initialize of the module;
 * only a readiness check was held to a wait (review 269). OCSP answers and the device hello routes need no
 * credential, so anyone who could reach them restarted the module at will: with a network HSM whose C_Initialize
 * takes seconds (calls are synchronous), that stalled the service. Every recovery is now held to the module's wait
 * (none after the first failure, then 5 s doubling to 60 s), answering the last `token_unavailable` in between; a
 * token back is found by the first recovery the wait allows. Signing through the Secure Environment stands for the
 * OCSP responder's signature. The module's restarts are counted (C_Finalize, C_Initialize); the clock is
 * performance.now, stopped and moved forward by the test.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { verifySignature } from '../domain/crypto/signatures.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { pkcs11js } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { RESTART_WAIT_MS } from '../adapters/driven/secure-environment/pkcs11/token-session.ts';
import { ocspRequest } from './support/ocsp-client.ts';
import { issueCertifiedCredential, pkiOf } from './support/pki-test-ca.ts';
import { startTestService } from './support/service.ts';
import { softHsm, softHsmMissing, withSoftHsmModule, slotOfToken } from './support/softhsm.ts';
import { rejection } from './support/pin-free-rejection.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const OWNER = 'maf:infrastructure';

describe.skipIf(softHsmMissing !== undefined)('a PKCS#11 token away under a Secure Environment', () => {
  const hsm = softHsm();
  // SoftHSM2 lists the tokens it finds at C_Initialize: all made before the first open.
  const away = hsm.token('away');
  const steady = hsm.token('steady');
  const responder = hsm.token('responder');
  afterAll(() => hsm.cleanup());
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('restarts the module at most once per wait however many operations meet it, and serves again at the first restart the wait allows once it is back', async () => {
    // Whole milliseconds, stopped: only the test moves the clock (see the readyz test of review 269).
    const start = Math.floor(performance.now());
    let skipped = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => start + skipped);
    await withSoftHsmModule(async (module) => {
      const se = Pkcs11SecureEnvironment.open({ uri: away.uri() }, { random });
      const other = Pkcs11SecureEnvironment.open({ uri: steady.uri() }, { random });
      try {
        const key = await se.generate(OWNER, 'ed25519');
        const publicKey = (await se.describe(OWNER, key)).publicKey as Uint8Array;
        const otherKey = await other.generate(OWNER, 'ed25519');
        const otherPublic = (await other.describe(OWNER, otherKey)).publicKey as Uint8Array;
        const initialises = vi.spyOn(module, 'C_Initialize');
        const finalises = vi.spyOn(module, 'C_Finalize');
        const restarts = () => {
          expect(finalises.mock.calls.length).toBe(initialises.mock.calls.length);
          return initialises.mock.calls.length;
        };
        const refused = async (times: number) => {
          for (let i = 0; i < times; i++) {
            const issue = await rejection(() => se.sign(OWNER, key, text(`m${i}`)), [away.pin, steady.pin]);
            expect(issue).toMatchObject({ path: 'token', rule: 'token_unavailable' });
            expect(issue?.message).toContain('token "away" is unavailable');
          }
        };

        const removed = hsm.deleteToken(away);
        // Ten answers as an unauthenticated caller makes them: the first failure is retried at once (a brief
        // failover is found then), after that held. Before: ten restarts.
        await refused(10);
        expect(restarts()).toBe(2);
        skipped += RESTART_WAIT_MS.first - 1;
        await refused(5);
        expect(restarts()).toBe(2);
        skipped += 1;
        await refused(5);
        expect(restarts()).toBe(3);
        // Doubling, never past the cap.
        skipped += 2 * RESTART_WAIT_MS.first - 1;
        await refused(3);
        expect(restarts()).toBe(3);
        for (let round = 0; round < 5; round++) {
          skipped += RESTART_WAIT_MS.most;
          await refused(4);
          expect(restarts()).toBe(4 + round);
        }

        // The other Secure Environment on the module, its session closed under it (an idle timeout) while the wait
        // holds: reopened without a restart of the module, so it keeps serving.
        const slot = slotOfToken(module, steady.label);
        expect(slot).toBeDefined();
        module.C_CloseAllSessions(slot!);
        expect(verifySignature('ed25519', otherPublic, text('during'), await other.sign(OWNER, otherKey, text('during')))).toBe(true);
        expect(restarts()).toBe(8);

        // Back: answered the last failure until the wait ends (nothing restarted meanwhile), then found at once.
        removed.restore();
        await refused(3);
        expect(restarts()).toBe(8);
        skipped += RESTART_WAIT_MS.most;
        expect(verifySignature('ed25519', publicKey, text('back'), await se.sign(OWNER, key, text('back')))).toBe(true);
        expect(restarts()).toBe(9);
        // And the wait forgotten: a session lost afterwards is recovered by the next operation, as before.
        const back = slotOfToken(module, away.label);
        expect(back).toBeDefined();
        const opened = module.C_OpenSession(back!, pkcs11js.CKF_SERIAL_SESSION);
        module.C_Logout(opened);
        module.C_CloseSession(opened);
        expect(verifySignature('ed25519', publicKey, text('again'), await se.sign(OWNER, key, text('again')))).toBe(true);
        expect(verifySignature('ed25519', otherPublic, text('after'), await other.sign(OWNER, otherKey, text('after')))).toBe(true);
        expect(restarts()).toBe(9);
      } finally {
        se.close();
        other.close();
      }
    });
  });

  it('OCSP answers (no credential needed) while the token is away restart the module at most once per wait, not once each', async () => {
    const start = Math.floor(performance.now());
    let skipped = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => start + skipped);
    const dir = mkdtempSync(join(tmpdir(), 'credence-ocsp-token-away-'));
    try {
      const root = Pkcs11SecureEnvironment.open({ uri: responder.uri() }, { random });
      try {
        await createRootCa({ dataDir: dir, se: root.forOwner('maf:infrastructure'), id: 'default', kind: 'p256', now: new Date(), random });
      } finally {
        root.close();
      }
      const svc = await startTestService({ dir, config: { secureEnvironment: responder.uri(), logLevel: 'silent' } });
      try {
        await withSoftHsmModule(async (module) => {
          const ca = pkiOf(svc).cas[0]!;
          const leaves = [];
          for (let i = 0; i < 11; i++) leaves.push(await issueCertifiedCredential(svc, `cred-${i}`));
          const initialises = vi.spyOn(module, 'C_Initialize');
          const removed = hsm.deleteToken(responder);
          try {
            // A request about another certificate each time, so that no answer comes from the responder's cache.
            for (const leaf of leaves.slice(0, 10)) {
              const answer = await fetch(`${svc.url}/pki/default/ocsp`, {
                method: 'POST',
                headers: { 'content-type': 'application/ocsp-request' },
                body: Buffer.from(await ocspRequest(leaf, ca)),
              });
              await answer.arrayBuffer();
            }
            // The first failure and its immediate retry; before, ten (review 332).
            expect(initialises.mock.calls.length).toBeLessThanOrEqual(2);
          } finally {
            removed.restore();
          }
          skipped += RESTART_WAIT_MS.most;
          const back = await fetch(`${svc.url}/pki/default/ocsp`, {
            method: 'POST',
            headers: { 'content-type': 'application/ocsp-request' },
            body: Buffer.from(await ocspRequest(leaves[10]!, ca)),
          });
          const der = new Uint8Array(await back.arrayBuffer());
          // responseStatus successful (0): signed again once the wait let a restart find the token.
          expect(der[der[1]! < 0x80 ? 4 : 4 + (der[1]! & 0x7f)]).toBe(0);
        });
      } finally {
        await svc.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
