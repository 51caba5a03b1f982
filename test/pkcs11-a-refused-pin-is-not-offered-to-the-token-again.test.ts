/**
 * Review 53 finding 1: every PIN the token refuses spends one of its PIN attempts, and HSMs lock the user PIN after a
 * few. A Secure Environment whose PIN was refused at a re-login (after a lost session) sent the same wrong PIN again
 * at every operation. Now the refusal is remembered: no C_Login again until the PIN file changes (an environment PIN:
 * until a restart), and no C_Login at all on a token that reports its user PIN locked or one attempt from it
 * (CKF_USER_PIN_LOCKED, CKF_USER_PIN_FINAL_TRY: SoftHSM2 keeps no counter, so its token information is wrapped to
 * report them). Real SoftHSM2 token, real restarts (C_Finalize then C_Initialize of the module); no PIN in any error.
 */
import { randomBytes } from 'node:crypto';
import { utimesSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { pkcs11js, type Pkcs11 } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { softHsm, softHsmMissing, withSoftHsmModule } from './support/softhsm.ts';
import { rejection } from './support/pin-free-rejection.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const OWNER = 'maf:infrastructure';


/** What an HSM restart does to this process: every session and login gone, so the next operation logs in again. */
const restartModule = (module: Pkcs11) => {
  module.C_Finalize();
  module.C_Initialize();
};

/** The token's information as a token with a PIN counter reports it, with `flag` set. */
const reportFlag = (module: Pkcs11, flag: number) => {
  const original = module.C_GetTokenInfo.bind(module);
  return vi.spyOn(module, 'C_GetTokenInfo').mockImplementation((slot) => {
    const info = original(slot);
    return { ...info, flags: info.flags | flag };
  });
};

describe.skipIf(softHsmMissing !== undefined)('PKCS#11 Secure Environment: a PIN the token refused is not offered to it again', () => {
  const hsm = softHsm();
  const filed = hsm.token('filed');
  const environment = hsm.token('environment');
  const counted = hsm.token('counted');
  afterAll(() => hsm.cleanup());
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('a wrong PIN in the file is sent once: ten operations make one C_Login until the file changes; the right PIN then serves', async () => {
    const se = Pkcs11SecureEnvironment.open({ uri: filed.uri() }, { random });
    const wrong = randomBytes(12).toString('hex');
    try {
      await withSoftHsmModule(async (module) => {
        const psk = await se.generate(OWNER, 'psk256');
        const tag = await se.mac(OWNER, psk, text('m'));
        writeFileSync(filed.pinFile, `${wrong}\n`, { mode: 0o600 });
        restartModule(module);
        const logins = vi.spyOn(module, 'C_Login');

        const issues = [];
        for (let i = 0; i < 10; i++) issues.push(await rejection(() => se.mac(OWNER, psk, text('m')), [filed.pin, wrong]));
        expect(logins).toHaveBeenCalledTimes(1);
        for (const [i, issue] of issues.entries()) {
          expect(issue).toMatchObject({ path: 'pin-source', rule: 'pin_incorrect' });
          expect(issue?.message).toContain(filed.pinFile);
          if (i > 0) expect(issue?.message).toContain(`not offered to the token again until the file ${filed.pinFile} changes`);
        }

        // The file rewritten (here only touched: the operator says "try again") earns one more attempt, no more.
        const later = new Date(Date.now() + 60_000);
        utimesSync(filed.pinFile, later, later);
        for (let i = 0; i < 3; i++) expect(await rejection(() => se.mac(OWNER, psk, text('m')), [filed.pin, wrong])).toMatchObject({ rule: 'pin_incorrect' });
        expect(logins).toHaveBeenCalledTimes(2);

        writeFileSync(filed.pinFile, `${filed.pin}\n`, { mode: 0o600 });
        expect(await se.mac(OWNER, psk, text('m'))).toEqual(tag);
        expect(logins).toHaveBeenCalledTimes(3);
      });
    } finally {
      se.close();
    }
  });

  it('an environment PIN the token refuses at a re-login is sent once: it cannot change before a restart', async () => {
    const uri = environment.uri().replace(/&pin-source=[^&]*/, '');
    const se = Pkcs11SecureEnvironment.open({ uri }, { random, env: { CREDENCE_PKCS11_PIN: environment.pin } });
    const changed = randomBytes(12).toString('hex');
    try {
      await withSoftHsmModule(async (module) => {
        const psk = await se.generate(OWNER, 'psk256');
        const slot = module.C_GetSlotList(true).find((s) => module.C_GetTokenInfo(s).label.trim() === environment.label)!;
        const session = module.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
        module.C_SetPIN(session, environment.pin, changed);
        module.C_CloseSession(session);
        restartModule(module);
        const logins = vi.spyOn(module, 'C_Login');

        const issues = [];
        for (let i = 0; i < 5; i++) issues.push(await rejection(() => se.mac(OWNER, psk, text('m')), [environment.pin, changed]));
        expect(logins).toHaveBeenCalledTimes(1);
        for (const [i, issue] of issues.entries()) {
          expect(issue).toMatchObject({ path: 'pin-source', rule: 'pin_incorrect' });
          if (i > 0) expect(issue?.message).toContain('until Credence restarts');
        }
      });
    } finally {
      se.close();
    }
  });

  it('a token reporting one PIN attempt left, or its PIN locked, is refused saying so, with no C_Login and no module re-initialisation', async () => {
    await withSoftHsmModule(async (module) => {
      const logins = vi.spyOn(module, 'C_Login');
      const finalTry = reportFlag(module, pkcs11js.CKF_USER_PIN_FINAL_TRY);
      const atOpen = await rejection(async () => Pkcs11SecureEnvironment.open({ uri: counted.uri() }, { random }), [counted.pin]);
      expect(atOpen).toMatchObject({ path: 'pin-source', rule: 'pin_final_try' });
      expect(atOpen?.message).toContain('CKF_USER_PIN_FINAL_TRY');
      expect(atOpen?.message).toContain('token "counted"');
      expect(logins).not.toHaveBeenCalled();
      finalTry.mockRestore();

      const se = Pkcs11SecureEnvironment.open({ uri: counted.uri() }, { random });
      try {
        const psk = await se.generate(OWNER, 'psk256');
        const tag = await se.mac(OWNER, psk, text('m'));
        for (const [flag, rule, named] of [
          [pkcs11js.CKF_USER_PIN_FINAL_TRY, 'pin_final_try', 'CKF_USER_PIN_FINAL_TRY'],
          [pkcs11js.CKF_USER_PIN_LOCKED, 'pin_locked', 'CKF_USER_PIN_LOCKED'],
        ] as const) {
          restartModule(module);
          logins.mockClear();
          const initialises = vi.spyOn(module, 'C_Initialize');
          const reported = reportFlag(module, flag);
          for (let i = 0; i < 3; i++) {
            const issue = await rejection(() => se.mac(OWNER, psk, text('m')), [counted.pin]);
            expect(issue).toMatchObject({ path: 'pin-source', rule });
            expect(issue?.message).toContain(named);
          }
          expect(logins).not.toHaveBeenCalled();
          // A PIN stop is the operator's to act on: re-initialising the module (disturbing the other Secure
          // Environments on it) would change nothing.
          expect(initialises).not.toHaveBeenCalled();
          reported.mockRestore();
          initialises.mockRestore();
          // The counter reset (the flag gone): the next operation logs in and serves.
          expect(await se.mac(OWNER, psk, text('m'))).toEqual(tag);
          expect(logins).toHaveBeenCalledTimes(1);
        }
      } finally {
        se.close();
      }
    });
  });
});
