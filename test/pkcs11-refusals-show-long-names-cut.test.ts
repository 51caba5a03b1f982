/**
 * An error never echoes unbounded caller input (as the JSON reader cuts names in paths, domain/json-duplicate-names.ts):
 * a PKCS#11 URI's attribute names (up to the URI's 8,192 characters; one without a value, and one unknown, repeated or badly escaped that does not look like a name, is not quoted at all) and the unknown keys of a PKCS#11 Secure
 * Environment configuration object (unbounded) are shown cut to 64 characters with their length, in the message and
 * in the issue's path. Handles and key kinds are covered for every Secure Environment by the conformance suite.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { parsePkcs11Uri, Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const random = (length: number) => new Uint8Array(randomBytes(length));
const LONG = 'x'.repeat(4000);

const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return { shown: `${error.message}\n${JSON.stringify(error.problem)}`, issue: error.problem.issues[0] };
    throw error;
  }
  throw new Error('expected a validation error');
};

describe('PKCS#11 refusals show long names cut', () => {
  it.each([
    ['a repeated attribute', `pkcs11:token=t;${LONG}=1;${LONG}=2?module-path=${MODULE}`, 'unique_attribute', 'attribute 3 of the path (4000 characters)'],
    ['bad percent-encoding', `pkcs11:token=t;${LONG}=%zz?module-path=${MODULE}`, 'percent_encoding', 'attribute 2 of the path (4000 characters)'],
  ])('a URI with %s names the rule and the attribute by its place and length, none of its name (review 462 F5)', (_what, uri, rule, path) => {
    const { shown, issue } = refusal(() => parsePkcs11Uri(uri));
    expect(issue?.rule).toBe(rule);
    expect(issue?.path).toBe(path);
    expect(shown).not.toContain('x'.repeat(65));
    expect(shown.length).toBeLessThan(1000);
  });

  // A name without a value, or one no PKCS#11 URI has, may be a PIN typed in the wrong place: named by its place and
  // length only, never quoted, not even cut (review 457).
  it.each([
    ['an attribute with no value', `pkcs11:token=t;${LONG}?module-path=${MODULE}`, 'attribute'],
    ['an unknown attribute', `pkcs11:token=t;${LONG}=1?module-path=${MODULE}`, 'unrecognized_keys'],
    ['an unknown query attribute', `pkcs11:token=t?module-path=${MODULE}&${LONG}=1`, 'unrecognized_keys'],
  ])('a URI with %s names the rule and the attribute by its place and length, none of its name', (_what, uri, rule) => {
    const { shown, issue } = refusal(() => parsePkcs11Uri(uri));
    expect(issue?.rule).toBe(rule);
    expect(shown).toContain('(4000 characters)');
    expect(shown).not.toContain('xxxx');
    expect(shown.length).toBeLessThan(1000);
  });

  it.each([
    ['after an & in the path part (a token label)', `pkcs11:token=credence&pin-value=4321?module-path=${MODULE}`],
    ['in a fragment of the pin source', `pkcs11:token=t?module-path=${MODULE}&pin-source=file:/tmp/pin#pin-value=4321`],
    ['in a fragment of the module path', `pkcs11:token=t?module-path=${MODULE}#pin-value=4321`],
    ['percent-encoded inside a label', `pkcs11:token=pin%2Dvalue%3D4321?module-path=${MODULE}`],
    ['in capitals', `pkcs11:token=t;PIN-VALUE=4321?module-path=${MODULE}`],
    ['percent-encoded beside an invalid escape (review 253)', `pkcs11:token=x;pin%2Dvalue%3D4321;z=%ZZ?module-path=${MODULE}`],
    ['with its first letter escaped', `pkcs11:token=x;%70in-value%3D4321?module-path=${MODULE}`],
  ])('a PIN written %s is refused as pin-value, never quoted (review 250)', (_where, uri) => {
    const { shown, issue } = refusal(() => parsePkcs11Uri(uri));
    expect(issue).toMatchObject({ path: 'pin-value', rule: 'refused_attribute' });
    expect(shown).not.toContain('4321');
  });

  it('a label or PIN file path that only contains the words pin-value is taken (review 253)', () => {
    expect(parsePkcs11Uri(`pkcs11:token=pin-value-tests?module-path=${MODULE}&pin-source=file:/run/secrets/pin-value`)).toMatchObject({
      token: { label: 'pin-value-tests' },
      pin: { source: 'file', path: '/run/secrets/pin-value' },
    });
  });

  it('a URI with a fragment is refused by name, its text not quoted', () => {
    const { shown, issue } = refusal(() => parsePkcs11Uri(`pkcs11:token=t?module-path=${MODULE}#secret-part`));
    expect(issue).toMatchObject({ path: 'uri', rule: 'fragment' });
    expect(shown).not.toContain('secret-part');
  });

  it('an unknown key of the configuration object is named cut, however long', () => {
    const key = 'y'.repeat(1_000_000);
    const { shown, issue } = refusal(() => Pkcs11SecureEnvironment.open({ uri: `pkcs11:token=t?module-path=${MODULE}`, [key]: true }, { random }));
    expect(issue).toMatchObject({ path: `${'y'.repeat(64)}… (1000000 characters)`, rule: 'unrecognized_keys' });
    expect(shown).not.toContain('y'.repeat(65));
    expect(shown.length).toBeLessThan(1000);
  });
});
