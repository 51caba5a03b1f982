/**
 * Review 324 item 2: a `secureEnvironment` the PKCS#11 URI parser refused was reported with the rule `custom`, so a
 * tool reading the refusal could not tell a PIN in the URI from a fragment or another scheme; the parser's own rule is
 * now the issue's.
 */
import { describe, expect, it } from 'vitest';
import { loadServiceConfig, serviceConfig } from '../adapters/http/config.ts';
import { firstIssueOf } from './support/first-issue.ts';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';



describe('a bad secureEnvironment setting', () => {
  it.each([
    ['a PIN value', `pkcs11:token=t?module-path=${MODULE}&pin-value=123456`, 'refused_attribute'],
    ['a fragment', `pkcs11:token=t?module-path=${MODULE}#x`, 'fragment'],
    ['another scheme', 'hsm', 'scheme'],
    ['a repeated attribute', `pkcs11:token=a;token=b?module-path=${MODULE}`, 'unique_attribute'],
  ])('%s is refused with the URI parser rule, naming its source', (_what, uri, rule) => {
    expect(firstIssueOf(() => loadServiceConfig({ flags: { secureEnvironment: uri } }))).toMatchObject({ path: 'flag --secure-environment', rule });
    expect(firstIssueOf(() => loadServiceConfig({ env: { CREDENCE_SECURE_ENVIRONMENT: uri } }))).toMatchObject({ path: 'env CREDENCE_SECURE_ENVIRONMENT', rule });
    expect(firstIssueOf(() => serviceConfig({ secureEnvironment: uri }))).toMatchObject({ path: 'secureEnvironment', rule });
  });
});
