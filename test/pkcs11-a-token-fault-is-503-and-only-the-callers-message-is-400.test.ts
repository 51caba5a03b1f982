/**
 * Review 147: a PKCS#11 call that failed on a session still serving was 503 only for CKR_DEVICE_ERROR,
 * CKR_DEVICE_MEMORY and CKR_GENERAL_ERROR. CKR_FUNCTION_FAILED, CKR_HOST_MEMORY and any CKR_* not recognised were a
 * 400 `validation` issue `token`/`token_error` with no Retry-After, blaming the caller (on POST /v1/tokens an admin
 * reads `token` as their bearer token). Now a fault of the token is 503 `secure_environment_unavailable` naming the
 * return value, and only the caller's own message refused by the token stays 400.
 */
import { describe, expect, it } from 'vitest';
import { mapRaisedError } from '../adapters/http/map-raised-error.ts';
import { bindingError, pkcs11js, pkcs11Unavailable } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { callError } from '../adapters/driven/secure-environment/pkcs11/token-errors.ts';

/** What the API answers for `code` out of `method` on a session that still serves (no recovery to try). */
const answered = (code: string, method = 'C_Sign') => {
  const lost = (detail: string) => pkcs11Unavailable('session_lost', `the session with token "hsm-a" was lost: ${detail}`);
  return mapRaisedError(callError(new pkcs11js.Pkcs11Error(code, 0, method), undefined, () => true, lost));
};

describe.skipIf(bindingError() !== undefined)('a PKCS#11 call that fails on a session still serving, as the API answers it', () => {
  it.each(['CKR_FUNCTION_FAILED', 'CKR_HOST_MEMORY', 'CKR_DEVICE_ERROR', 'CKR_DEVICE_MEMORY', 'CKR_GENERAL_ERROR'])(
    'a fault the token reports of itself (%s) is 503 device_error with Retry-After, naming the return value',
    (code) => {
      expect(answered(code)).toMatchObject({
        status: 503,
        code: 'secure_environment_unavailable',
        extensions: { reason: 'device_error', returnValue: code },
        headers: { 'retry-after': '5' },
      });
    },
  );

  it.each(['CKR_VENDOR_DEFINED', 'CKR_BUFFER_TOO_SMALL', 'CKR_KEY_FUNCTION_NOT_PERMITTED', 'CKR_MECHANISM_PARAM_INVALID'])(
    'a return value not recognised (%s) is the Secure Environment\'s fault: 503 token_error naming it, never a validation issue',
    (code) => {
      const mapped = answered(code, 'C_DeriveKey');
      expect(mapped).toMatchObject({ status: 503, code: 'secure_environment_unavailable', extensions: { reason: 'token_error', returnValue: code }, headers: { 'retry-after': '5' } });
      expect(JSON.stringify(mapped)).not.toContain('"errors"');
      // The label stays in the log: not in an answer a device route may give a stranger.
      expect(mapped.detail).not.toContain('hsm-a');
    },
  );

  it.each([
    ['CKR_DATA_LEN_RANGE', 'data_len_range'],
    ['CKR_DATA_INVALID', 'data_invalid'],
  ])('the message a caller gave the token to sign, refused by it (%s), stays 400 naming the message, not `token`', (code, rule) => {
    const mapped = answered(code);
    expect(mapped).toMatchObject({ status: 400, code: 'validation', extensions: { errors: [{ path: 'message', rule }] } });
    expect(mapped.headers).toBeUndefined();
    expect(mapped.detail).toContain(`C_Sign failed: ${code}`);
  });
});
