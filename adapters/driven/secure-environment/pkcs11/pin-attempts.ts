import { CredenceError, type FieldIssue } from '../../../../domain/errors.ts';
import { pkcs11js, pkcs11Problem, type Pkcs11, type Pkcs11Handle } from './module.ts';
import { opening } from './token-errors.ts';

const issueOf = (error: unknown): FieldIssue | undefined =>
  error instanceof CredenceError && error.problem.code === 'validation' ? error.problem.issues[0] : undefined;

/**
 * Refuses to log in to a token whose user PIN is locked, or has one attempt left (CK_TOKEN_INFO flags, PKCS#11
 * v2.40 §3.2 and §5.4). Credence logs in without a person watching, after every lost session: it must never be the
 * one that spends the last attempt and locks the PIN (an HSM then needs its security officer). Read before each
 * C_Login, so a counter that an operator reset (one login by hand with the right PIN) lets the next one through.
 * Tokens that keep no counter (SoftHSM2) never set these flags.
 */
export const assertPinAttemptsLeft = (module: Pkcs11, slot: Pkcs11Handle, label: string): void => {
  const { flags } = opening('C_GetTokenInfo', () => module.C_GetTokenInfo(slot));
  if ((flags & pkcs11js.CKF_USER_PIN_LOCKED) !== 0) {
    throw pkcs11Problem('pin-source', 'pin_locked', `the user PIN of token "${label}" is locked (CKF_USER_PIN_LOCKED): the security officer must reset it; Credence did not log in`);
  }
  if ((flags & pkcs11js.CKF_USER_PIN_FINAL_TRY) !== 0) {
    throw pkcs11Problem(
      'pin-source',
      'pin_final_try',
      `token "${label}" allows one more user PIN attempt before it locks the PIN (CKF_USER_PIN_FINAL_TRY): Credence does not spend it; check the PIN source, then log in once by hand with the right PIN (which resets the count) or have the security officer reset it`,
    );
  }
};

/** The token's own refusal of a PIN at C_Login (module.ts `login`), as the PIN source remembers it; undefined for anything else. */
export const pinRefusedByToken = (error: unknown): FieldIssue | undefined => {
  const issue = issueOf(error);
  return issue?.rule === 'pin_incorrect' || issue?.rule === 'pin_locked' ? issue : undefined;
};
