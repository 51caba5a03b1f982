/**
 * Review 457 F2: a PKCS#11 URI attribute without `=` was refused by quoting its text, so a PIN written
 * `&pin-value:PIN`, `pin-value%3APIN`, `&pin-value-PIN`, `;pin-value:PIN` in the path part, or pasted bare as `&PIN`
 * was echoed in the error (docs/hsm.md: "The PIN never appears in an error message"). Now a valueless attribute is
 * told by its place and length, `pin-value` followed by `=`, `:` or (as an attribute) `-` is refused as pin-value
 * as written and percent-decoded, and an unknown attribute name is quoted only when it looks like one.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { parsePkcs11Uri, Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const MARKER = 'S3cr3tPIN';
const random = (length: number) => new Uint8Array(randomBytes(length));

const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') {
      return { shown: `${error.message}\n${JSON.stringify(error.problem)}\n${error.stack}`, issues: error.problem.issues };
    }
    throw error;
  }
  throw new Error('expected a validation error');
};

describe('PKCS#11 URI: a PIN written where an attribute goes is never quoted', () => {
  it.each([
    ['pin-value with a colon', `pkcs11:token=t?module-path=${MODULE}&pin-value:${MARKER}`],
    ['pin-value with an escaped colon', `pkcs11:token=t?module-path=${MODULE}&pin-value%3A${MARKER}`],
    ['pin-value with a hyphen', `pkcs11:token=t?module-path=${MODULE}&pin-value-${MARKER}`],
    ['pin-value with an escaped hyphen', `pkcs11:token=t?module-path=${MODULE}&pin-value%2D${MARKER}`],
    ['pin-value with a colon in the path part', `pkcs11:token=t;pin-value:${MARKER}?module-path=${MODULE}`],
    ['pin-value with a hyphen in the path part', `pkcs11:token=t;pin-value-${MARKER}?module-path=${MODULE}`],
  ])('%s is refused as pin-value', (_what, uri) => {
    for (const run of [() => parsePkcs11Uri(uri), () => Pkcs11SecureEnvironment.open({ uri }, { random })]) {
      const { shown, issues } = refusal(run);
      expect(issues[0]).toMatchObject({ path: 'pin-value', rule: 'refused_attribute' });
      expect(shown).not.toContain(MARKER);
    }
  });

  it.each([
    ['a bare PIN in the query', `pkcs11:token=t?module-path=${MODULE}&${MARKER}`, 'query', 'attribute 2 of the query has no value (9 characters)'],
    ['a bare PIN in the path part', `pkcs11:token=t;${MARKER}?module-path=${MODULE}`, 'path', 'attribute 2 of the path has no value (9 characters)'],
    ['a known name with no value', `pkcs11:token=t?module-path=${MODULE}&x-derivation`, 'query', 'attribute 2 of the query has no value (12 characters)'],
  ])('%s is told by its place and length, never quoted', (_what, uri, path, message) => {
    const { shown, issues } = refusal(() => parsePkcs11Uri(uri));
    expect(issues[0]).toEqual({ path, rule: 'attribute', message });
    expect(shown).not.toContain(MARKER);
    expect(shown).not.toContain('"x-derivation"');
  });

  it('an unknown attribute name is quoted only when it looks like an attribute name; any other is told by its place', () => {
    const odd = refusal(() => parsePkcs11Uri(`pkcs11:token=t?module-path=${MODULE}&${MARKER}=1`));
    expect(odd.issues[0]).toMatchObject({ path: 'attribute 2 of the query (9 characters)', rule: 'unrecognized_keys' });
    expect(odd.shown).not.toContain(MARKER);
    const inPath = refusal(() => parsePkcs11Uri(`pkcs11:token=t;model=m;${MARKER}=1?module-path=${MODULE}`));
    expect(inPath.issues[0]).toMatchObject({ path: 'attribute 3 of the path (9 characters)', rule: 'unrecognized_keys' });
    expect(inPath.shown).not.toContain(MARKER);
    expect(refusal(() => parsePkcs11Uri(`pkcs11:token=t?module-path=${MODULE}&module-name=softhsm2`)).issues[0]).toMatchObject({
      path: 'module-name',
      rule: 'unrecognized_keys',
    });
  });

  it('a label or PIN file path that only contains the words pin-value is still taken', () => {
    expect(parsePkcs11Uri(`pkcs11:token=pin-value-tests?module-path=${MODULE}&pin-source=file:/run/secrets/pin-value`)).toMatchObject({
      token: { label: 'pin-value-tests' },
      pin: { source: 'file', path: '/run/secrets/pin-value' },
    });
  });

  it.each([
    ['a label with a colon before the words', `pkcs11:token=ACME:pin-value-tests?module-path=${MODULE}`, { token: { label: 'ACME:pin-value-tests' } }],
    ['a label with an escaped colon before the words', `pkcs11:token=ACME%3Apin-value-tests?module-path=${MODULE}`, { token: { label: 'ACME:pin-value-tests' } }],
    ['a label of the words and a colon', `pkcs11:token=pin-value:prod?module-path=${MODULE}`, { token: { label: 'pin-value:prod' } }],
    [
      'a PIN file path of the words and a colon',
      `pkcs11:token=t?module-path=${MODULE}&pin-source=file:/run/secrets/pin-value:1`,
      { pin: { source: 'file', path: '/run/secrets/pin-value:1' } },
    ],
  ])('review 462 F4: %s is taken (pin-value: or pin-value- is refused only where an attribute name starts)', (_what, uri, expected) => {
    expect(parsePkcs11Uri(uri)).toMatchObject(expected);
  });

  it.each([
    ['appears twice', `pkcs11:token=t?module-path=${MODULE}&${MARKER}=1&${MARKER}=2`, 'unique_attribute', 'attribute 3 of the query (9 characters)'],
    ['holds an invalid percent-escape', `pkcs11:token=t?module-path=${MODULE}&${MARKER}=%zz`, 'percent_encoding', 'attribute 2 of the query (9 characters)'],
  ])('review 462 F5: a name that does not look like one and %s is told by its place and length', (_what, uri, rule, path) => {
    const { shown, issues } = refusal(() => parsePkcs11Uri(uri));
    expect(issues[0]).toMatchObject({ path, rule });
    expect(shown).not.toContain(MARKER);
  });
});
