import { findTokenSlot, login, pkcs11js, type Pkcs11, type Pkcs11Handle } from './module.ts';
import { assertPinAttemptsLeft, pinRefusedByToken } from './pin-attempts.ts';
import type { PinSupply } from './pin-source.ts';
import { opening } from './token-errors.ts';
import type { Pkcs11Uri } from './uri.ts';

const SESSION_FLAGS = pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION;

/** A session logged in on the token found, with that token's serial and the mechanisms it lists. */
export interface LoggedInSession {
  readonly slot: Pkcs11Handle;
  readonly serial: string;
  readonly session: Pkcs11Handle;
  readonly mechanisms: ReadonlySet<number>;
}

/**
 * Finds the token by the URI's attributes (its slot may have changed), opens a session, logs in with the PIN read
 * anew. No C_Login with a PIN the token already refused (the PIN source's remembered refusal instead), nor on a
 * token whose PIN is locked or one attempt from it (pin-attempts.ts): a retry must never lock the PIN.
 */
export const logIn = (module: Pkcs11, selection: Pkcs11Uri['token'], supply: PinSupply): LoggedInSession => {
  const { slot, serial } = opening('C_GetSlotList', () => findTokenSlot(module, selection));
  const pin = supply.read();
  assertPinAttemptsLeft(module, slot, selection.label);
  const session = opening('C_OpenSession', () => module.C_OpenSession(slot, SESSION_FLAGS));
  try {
    login(module, slot, session, pin);
    supply.accepted();
    const mechanisms = opening('C_GetMechanismList', () => new Set(module.C_GetMechanismList(slot)));
    return { slot, serial, session, mechanisms };
  } catch (error) {
    const refusal = pinRefusedByToken(error);
    if (refusal !== undefined) supply.refused(pin, refusal);
    try {
      module.C_CloseSession(session);
    } catch {
      // The session is of no use either way; the login failure is what the caller must see.
    }
    throw error;
  }
};
