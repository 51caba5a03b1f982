/**
 * Issue 16: the PKCS#11 URI (RFC 7512) and the service's `secureEnvironment` setting are parsed with limits, and
 * every refusal names the attribute and its source, never a PIN.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { parsePkcs11Uri } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { loadServiceConfig } from '../adapters/http/config.ts';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const issueOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return { issue: error.problem.issues[0], message: error.message };
    throw error;
  }
  throw new Error('expected a validation error');
};

describe('PKCS#11 URI (RFC 7512)', () => {
  it('reads the token selection, the module path, the PIN source and the derivation setting, percent-decoded', () => {
    expect(parsePkcs11Uri(`pkcs11:token=Credence%20HSM;serial=0123abcd?module-path=${MODULE}&pin-source=file:/etc/credence/pin&x-derivation=host`)).toEqual({
      token: { label: 'Credence HSM', serial: '0123abcd' },
      modulePath: MODULE,
      pin: { source: 'file', path: '/etc/credence/pin' },
      derivation: 'host',
    });
    expect(parsePkcs11Uri(`pkcs11:token=t?module-path=${MODULE}`)).toMatchObject({ pin: { source: 'env', name: 'CREDENCE_PKCS11_PIN' }, derivation: 'token' });
    expect(parsePkcs11Uri(`pkcs11:token=t?module-path=${MODULE}&pin-source=env:HSM_PIN`).pin).toEqual({ source: 'env', name: 'HSM_PIN' });
  });

  it.each([
    ['not a pkcs11 URI', 'https://example.com', 'uri', 'scheme'],
    ['a PIN value', `pkcs11:token=t?module-path=${MODULE}&pin-value=123456`, 'pin-value', 'refused_attribute'],
    ['no token label', `pkcs11:serial=1?module-path=${MODULE}`, 'token', 'invalid_type'],
    ['no module path', 'pkcs11:token=t', 'module-path', 'invalid_type'],
    ['a relative module path', 'pkcs11:token=t?module-path=lib.so', 'module-path', 'custom'],
    ['a repeated attribute', `pkcs11:token=a;token=b?module-path=${MODULE}`, 'token', 'unique_attribute'],
    ['bad percent-encoding', `pkcs11:token=%zz?module-path=${MODULE}`, 'token', 'percent_encoding'],
    ['an object selection', `pkcs11:token=t;object=k?module-path=${MODULE}`, 'object', 'refused_attribute'],
    ['an unknown attribute', `pkcs11:token=t?module-path=${MODULE}&module-name=softhsm2`, 'module-name', 'unrecognized_keys'],
    ['a relative PIN file', `pkcs11:token=t?module-path=${MODULE}&pin-source=file:pin.txt`, 'pin-source', 'invalid_union'],
    ['a label longer than a token label can be', `pkcs11:token=${'x'.repeat(33)}?module-path=${MODULE}`, 'token', 'too_big'],
  ])('refuses %s, naming the attribute', (_what, uri, path, rule) => {
    const { issue, message } = issueOf(() => parsePkcs11Uri(uri));
    expect(issue).toMatchObject({ path, rule });
    expect(message).not.toContain('123456');
  });

  it('refuses a URI beyond its size limit', () => {
    expect(issueOf(() => parsePkcs11Uri(`pkcs11:token=t?module-path=/${'a'.repeat(9000)}`)).issue).toMatchObject({ path: 'uri', rule: 'too_big' });
  });
});

describe('the secureEnvironment setting of credence serve', () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-se-setting-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const uri = `pkcs11:token=credence?module-path=${MODULE}&pin-source=file:/etc/credence/pin`;

  it('comes from the flag, the environment or the config file (in that order); the default is the embedded one', () => {
    const file = join(dir, 'credence.json');
    writeFileSync(file, JSON.stringify({ secureEnvironment: uri }));
    expect(loadServiceConfig({}).secureEnvironment).toBeUndefined();
    expect(loadServiceConfig({ file }).secureEnvironment).toBe(uri);
    expect(loadServiceConfig({ file, env: { CREDENCE_SECURE_ENVIRONMENT: 'embedded' } }).secureEnvironment).toBe('embedded');
    expect(loadServiceConfig({ file, env: { CREDENCE_SECURE_ENVIRONMENT: 'embedded' }, flags: { secureEnvironment: `${uri}&x-derivation=host` } }).secureEnvironment).toBe(`${uri}&x-derivation=host`);
  });

  it('is refused before anything opens, naming its source and the URI attribute, never the PIN', () => {
    const { issue, message } = issueOf(() => loadServiceConfig({ flags: { secureEnvironment: `${uri}&pin-value=s3cr3t-pin` } }));
    expect(issue?.path).toBe('flag --secure-environment');
    expect(issue?.message).toContain('pin-value');
    expect(message).not.toContain('s3cr3t-pin');
    expect(issueOf(() => loadServiceConfig({ env: { CREDENCE_SECURE_ENVIRONMENT: 'hsm' } })).issue?.path).toBe('env CREDENCE_SECURE_ENVIRONMENT');
  });
});
