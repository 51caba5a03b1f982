/**
 * Review 335: the module's restart wait (review 332) is shared by every Secure Environment on the module, and a
 * Secure Environment that had failed once while it held was answered that failure, with no module call, until the
 * wait ended: a healthy token whose session failed once (a one-second failover) while another token's outage had
 * pushed the wait to 60 s was refused for up to a minute, told that "a restart of its module failed moments ago"
 * though none was tried for it. Only a Secure Environment whose own restart failed is held; another one tries a new
 * session (without the restart) at each operation. And a PIN refused after a restart of the module (the token back,
 * its PIN file wrong) was kept as the last failure and set the wait, so a PIN file mended at once was not read until
 * the wait ended (docs/hsm.md: "a PIN refused restarts nothing and is not held"). The clock is performance.now,
 * stopped and moved forward by the test; the module's restarts are counted (C_Initialize, C_Finalize).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { verifySignature } from '../domain/crypto/signatures.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { pkcs11js } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { RESTART_WAIT_MS } from '../adapters/driven/secure-environment/pkcs11/token-session.ts';
import { softHsm, softHsmMissing, withSoftHsmModule, slotOfToken } from './support/softhsm.ts';
import { rejection } from './support/pin-free-rejection.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const OWNER = 'maf:infrastructure';

describe.skipIf(softHsmMissing !== undefined)('the restart wait of a PKCS#11 module with a token away', () => {
  const hsm = softHsm();
  // SoftHSM2 lists the tokens it finds at C_Initialize: all made before the first open.
  const away = hsm.token('away');
  const steady = hsm.token('steady');
  const relogin = hsm.token('relogin');
  afterAll(() => hsm.cleanup());
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** A stopped clock, only moved by the test; far ahead of the last test's, so no wait of it is still running. */
  const stoppedClock = (ahead: number) => {
    const start = Math.floor(performance.now()) + ahead;
    const clock = { skipped: 0 };
    vi.spyOn(performance, 'now').mockImplementation(() => start + clock.skipped);
    return clock;
  };

  it("a healthy token whose session fails once while another token's outage holds the module's wait is tried again at its next operation, not held", async () => {
    const clock = stoppedClock(0);
    await withSoftHsmModule(async (module) => {
      const se = Pkcs11SecureEnvironment.open({ uri: away.uri() }, { random });
      const other = Pkcs11SecureEnvironment.open({ uri: steady.uri() }, { random });
      try {
        const key = await se.generate(OWNER, 'ed25519');
        const otherKey = await other.generate(OWNER, 'ed25519');
        const otherPublic = (await other.describe(OWNER, otherKey)).publicKey as Uint8Array;
        const initialises = vi.spyOn(module, 'C_Initialize');
        const refusedAway = async () => {
          const issue = await rejection(() => se.sign(OWNER, key, text('m')), [away.pin, steady.pin]);
          expect(issue).toMatchObject({ path: 'token', rule: 'token_unavailable' });
        };

        const removed = hsm.deleteToken(away);
        try {
          // Each round one restart that fails, until the wait reaches its most (60 s).
          await refusedAway();
          for (let round = 0; round < 6; round++) {
            clock.skipped += RESTART_WAIT_MS.most;
            await refusedAway();
          }
          const restarts = initialises.mock.calls.length;
          expect(restarts).toBe(7);
          clock.skipped += RESTART_WAIT_MS.most - 1;
          await refusedAway();
          expect(initialises.mock.calls.length).toBe(restarts);
          clock.skipped -= RESTART_WAIT_MS.most - 1;

          // The healthy token's session closed under it, and the device fails its next C_OpenSession once (a failover).
          const slot = slotOfToken(module, steady.label);
          expect(slot).toBeDefined();
          module.C_CloseAllSessions(slot!);
          const opened = vi.spyOn(module, 'C_OpenSession').mockImplementationOnce(() => {
            throw new pkcs11js.Pkcs11Error('CKR_DEVICE_ERROR:48', 0x30, 'C_OpenSession');
          });
          const issue = await rejection(() => other.sign(OWNER, otherKey, text('failover')), [away.pin, steady.pin]);
          expect(issue).toMatchObject({ path: 'token', rule: 'token_unavailable' });
          expect(issue?.message).toContain('token "steady" is unavailable');
          // True of what happened: no restart was tried for it (the wait is another token's).
          expect(issue?.message).not.toContain('a restart of its module failed');
          expect(issue?.message).toContain('not restarted for it');
          expect(initialises.mock.calls.length).toBe(restarts);
          const before = opened.mock.calls.length;

          // A second later the failover is over: its next operation opens a new session (before: refused with no
          // module call until the other token's wait ended, up to a minute).
          clock.skipped += 1_000;
          expect(verifySignature('ed25519', otherPublic, text('back'), await other.sign(OWNER, otherKey, text('back')))).toBe(true);
          expect(opened.mock.calls.length).toBeGreaterThan(before);
          expect(initialises.mock.calls.length).toBe(restarts);

          // The token away is still held to its own wait, which the other's recovery did not end.
          await refusedAway();
          expect(initialises.mock.calls.length).toBe(restarts);
        } finally {
          removed.restore();
        }
        clock.skipped += RESTART_WAIT_MS.most;
        await se.sign(OWNER, key, text('again'));
      } finally {
        se.close();
        other.close();
      }
    });
  });

  it('a PIN refused at the login after a restart of the module is not held: a PIN file mended at once is read at the next operation', async () => {
    const clock = stoppedClock(3_600_000);
    await withSoftHsmModule(async (module) => {
      const se = Pkcs11SecureEnvironment.open({ uri: relogin.uri() }, { random });
      try {
        const key = await se.generate(OWNER, 'ed25519');
        const publicKey = (await se.describe(OWNER, key)).publicKey as Uint8Array;
        const initialises = vi.spyOn(module, 'C_Initialize');
        const wrong = randomBytes(12).toString('hex');

        const removed = hsm.deleteToken(relogin);
        for (let i = 0; i < 2; i++) {
          expect(await rejection(() => se.sign(OWNER, key, text('m')), [relogin.pin, wrong])).toMatchObject({ rule: 'token_unavailable' });
        }
        expect(initialises.mock.calls.length).toBe(2);

        // Back, with its PIN file wrong: the restart the wait allows finds the token, whose login refuses the PIN.
        removed.restore();
        writeFileSync(relogin.pinFile, `${wrong}\n`, { mode: 0o600 });
        clock.skipped += RESTART_WAIT_MS.first;
        expect(await rejection(() => se.sign(OWNER, key, text('m')), [relogin.pin, wrong])).toMatchObject({ path: 'pin-source', rule: 'pin_incorrect' });
        expect(initialises.mock.calls.length).toBe(3);

        // Mended at once, no time passing: read at the next operation (before: the PIN's refusal answered until the
        // wait it had set ended).
        writeFileSync(relogin.pinFile, `${relogin.pin}\n`, { mode: 0o600 });
        expect(verifySignature('ed25519', publicKey, text('mended'), await se.sign(OWNER, key, text('mended')))).toBe(true);
        expect(initialises.mock.calls.length).toBe(3);
      } finally {
        se.close();
      }
    });
  });
});
