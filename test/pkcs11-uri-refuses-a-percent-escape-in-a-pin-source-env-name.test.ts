/**
 * Review 324 finding 1: bin/credence.mjs withholds the PIN variables from tsx's esbuild child by matching
 * `pin-source=env:NAME` in the text as written, while the URI parser percent-decodes each value: `env:OPER%41TOR_PIN`
 * logged in with OPERATOR_PIN, which the launcher had not withheld. An environment variable name never needs a
 * percent-escape (letters, digits and _), so one in the name is refused, naming the attribute and the rule, never the
 * value; the `env:` prefix may still be escaped (`encodeURIComponent('env:NAME')` gives `env%3ANAME`), which the
 * launcher decodes (test/pkcs11-no-child-of-the-cli-inherits-an-environment-pin.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { parsePkcs11Uri } from '../adapters/driven/secure-environment/pkcs11/uri.ts';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const uriWith = (pinSource: string) => `pkcs11:token=credence?module-path=${MODULE}&pin-source=${pinSource}`;

const refusal = (uri: string) => {
  try {
    parsePkcs11Uri(uri);
  } catch (error) {
    if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') throw error;
    return { issues: error.problem.issues, everything: `${error.message} ${JSON.stringify(error.problem)} ${String(error.stack)}` };
  }
  throw new Error(`accepted: ${uri}`);
};

describe('a PKCS#11 URI pin-source env: name with a percent-escape', () => {
  for (const written of ['env:OPER%41TOR_PIN', 'env:%4FPERATOR_PIN', 'env%3AOPERATOR_PI%4E', '%65nv:OPERATOR%5fPIN']) {
    it(`"${written}" is refused as pin-source percent_escaped_name, not echoing the name`, () => {
      const { issues, everything } = refusal(uriWith(written));
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({ path: 'pin-source', rule: 'percent_escaped_name' });
      expect(issues[0]?.message).toMatch(/env: name .*without percent-escapes/);
      expect(everything).not.toContain('OPERATOR');
    });
  }

  it('the name written as it is is taken, also after an escaped env: prefix', () => {
    expect(parsePkcs11Uri(uriWith('env:OPERATOR_PIN')).pin).toEqual({ source: 'env', name: 'OPERATOR_PIN' });
    expect(parsePkcs11Uri(uriWith('env%3AOPERATOR_PIN')).pin).toEqual({ source: 'env', name: 'OPERATOR_PIN' });
    expect(parsePkcs11Uri(uriWith('env%3aOPERATOR_PIN')).pin).toEqual({ source: 'env', name: 'OPERATOR_PIN' });
  });

  it('a file: path may still be percent-encoded (a path may need it)', () => {
    expect(parsePkcs11Uri(uriWith('file:/run/secrets/hsm%20pin%26x')).pin).toEqual({ source: 'file', path: '/run/secrets/hsm pin&x' });
    expect(parsePkcs11Uri(uriWith('file%3A%2Frun%2Fenv%3APIN')).pin).toEqual({ source: 'file', path: '/run/env:PIN' });
  });
});
