/**
 * Review 269 finding 2: a `pin-source` in none of its forms (`/etc/credence/pin` without `file:`, a relative or `~`
 * path, an environment variable name starting with a digit) was refused only as `PKCS#11 URI pin-source: Invalid
 * input`: the zod union dropped its members' messages. Now the refusal says which forms it takes, and never echoes
 * what was given (a value put there by mistake may be the PIN itself).
 */
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { parsePkcs11Uri } from '../adapters/driven/secure-environment/pkcs11/uri.ts';

const refusal = (uri: string): unknown => {
  try {
    parsePkcs11Uri(uri);
  } catch (error) {
    return error;
  }
  throw new Error(`accepted: ${uri}`);
};

describe('a PKCS#11 URI pin-source in none of its forms', () => {
  const uriWith = (pinSource: string) => `pkcs11:token=credence?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=${encodeURIComponent(pinSource)}`;
  for (const given of ['/etc/credence/pin', 'file:pin', 'file:./pin', 'file:~/pin', 'env:1PIN', 'Tr0ub4dor&3', '']) {
    it(`"${given}" is refused naming file:/absolute/path and env:NAME, not echoing it`, () => {
      const error = refusal(uriWith(given));
      expect(isCredenceError(error, 'validation')).toBe(true);
      if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') return;
      expect(error.problem.issues).toHaveLength(1);
      const [issue] = error.problem.issues;
      expect(issue).toMatchObject({ path: 'pin-source' });
      expect(issue?.message).toMatch(/must be file:\/absolute\/path or env:NAME/);
      expect(error.message).toMatch(/must be file:\/absolute\/path or env:NAME/);
      if (given.length > 3) {
        const everything = `${error.message} ${JSON.stringify(error.problem)} ${String(error.stack)}`;
        expect(everything).not.toContain(given);
        const value = given.replace(/^(file|env):/, '');
        if (value.length >= 5) expect(everything).not.toContain(value);
      }
    });
  }

  it('its two forms are still taken', () => {
    expect(parsePkcs11Uri(uriWith('file:/etc/credence/pin')).pin).toEqual({ source: 'file', path: '/etc/credence/pin' });
    expect(parsePkcs11Uri(uriWith('env:HSM_PIN')).pin).toEqual({ source: 'env', name: 'HSM_PIN' });
  });
});
