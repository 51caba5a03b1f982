import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { ownerView } from '../domain/ports/index.ts';
import { runCli } from './support/cli.ts';
import { hasOpenssl, OpenSslDir } from './support/openssl.ts';
import { memorySecureEnvironment, seededRandom } from './crypto-fixtures.ts';

/*
 * Found in review (D2): `credence ca init --subject` checked only the `type=value` shape and @peculiar/x509 read the
 * rest leniently. `2.5.4.3=#020101` made a CA certificate OpenSSL cannot load ("mstring wrong tag"), `CN=Grid\nCA` an
 * empty CN, `CN=ok,1.2.3.4=#0500` an unloadable certificate, a 5,000-character CN passed (ub-common-name is 64,
 * RFC 5280 Appendix A) and `CN=a\00b` became `a00b`. Each is now refused (exit 1, `validation`, path `subject`, rule
 * `distinguished_name` with the attribute and the broken rule in the message, the value not echoed) and leaves no CA
 * and no key; every subject accepted loads in OpenSSL as written.
 */
const run = runCli;

const dir = mkdtempSync(join(tmpdir(), 'credence-ca-subject-'));
const files = new OpenSslDir();
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  files.remove();
});

describe('ca init --subject', () => {
  it.each([
    ['a #-hex BER value', '2.5.4.3=#020101', 'CN: a #-hex BER value', 'hex_value'],
    ['a newline in a value', 'CN=Grid\nCA', 'CN: holds a control', 'control_character'],
    ['an attribute type of unknown syntax', 'CN=ok,1.2.3.4=#0500', 'attribute type "1.2.3.4" is not one Credence signs', 'unknown_attribute'],
    ['a common name over ub-common-name', `CN=${'x'.repeat(65)}`, 'CN: is 65 characters, at most 64 (ub-common-name', 'upper_bound'],
    ['an escaped NUL', 'CN=a\\00b', 'CN: holds a control', 'control_character'],
    ['an empty value', 'CN=', 'CN: is empty', 'empty_value'],
    ['a country that is no ISO 3166 code', 'CN=Grid,C=USA', 'C: must be two capital letters', 'country_code'],
    ['an unescaped semicolon', 'CN=a;O=b', 'CN: ";" must be escaped', 'unescaped_special'],
    ['a backslash escaping nothing', 'CN=a\\qb', 'CN: a backslash must be followed', 'bad_escape'],
    ['escapes that are not UTF-8', 'CN=\\C3', 'CN: its \\XX escapes are not UTF-8', 'bad_escape'],
    ['a serial number outside PrintableString', 'CN=Grid,serialNumber=a_b', 'serialNumber: must be a PrintableString', 'printable_string'],
  ])('refuses %s (exit 1, naming the attribute and the rule), leaving no CA and no key', async (_what, subject, message, rule) => {
    const data = join(dir, `refused-${rule}-${Math.random().toString(36).slice(2, 8)}`);
    const refused = await run(['ca', 'init', '--data', data, '--subject', subject]);
    expect(refused.code, refused.out).toBe(1);
    expect(refused.out).toBe('');
    expect(refused.err).toContain('subject: ');
    expect(refused.err).toContain(message);
    expect(refused.err).toContain(`[${rule}]`);
    // Refused before the data folder is made: no CA, no key, no folder.
    expect(existsSync(data)).toBe(false);
  });

  it('refuses through createRootCa a 5,000-character CN as a validation problem that does not echo it', async () => {
    const se = memorySecureEnvironment('ca-subject-api', () => new Date());
    try {
      const error = await createRootCa({
        dataDir: join(dir, 'api'), se: ownerView(se, 'maf:infrastructure'), id: 'default', kind: 'p256',
        subject: `CN=${'x'.repeat(5000)}`, now: new Date(), random: seededRandom('ca-subject-api'),
      }).then(() => undefined, (e: unknown) => e);
      expect(isCredenceError(error)).toBe(true);
      const problem = (error as { problem: { code: string; issues: { path: string; rule: string; message: string }[] } }).problem;
      expect(problem.code).toBe('validation');
      expect(problem.issues).toEqual([{ path: 'subject', rule: 'distinguished_name', message: expect.stringContaining('[too_long]') }]);
      expect(problem.issues[0]!.message.length).toBeLessThan(200);
    } finally {
      se.close();
    }
  });

  it.runIf(hasOpenssl())('makes a CA whose subject OpenSSL loads exactly as written, escapes decoded', async () => {
    const cases: [string, string][] = [
      ['CN=Grid Issuing CA, O=City Utilities, C=DE', 'CN=Grid Issuing CA,O=City Utilities,C=DE'],
      ['CN=a\\2Cb', 'CN=a\\,b'],
      ['CN=Z\\C3\\A4hler Wurzel,DC=example,DC=com', 'CN=Zähler Wurzel,DC=example,DC=com'],
      ['CN=Meter\\+Grid+O=Acme', 'CN=Meter\\+Grid+O=Acme'],
      [`CN=${'é'.repeat(64)}`, `CN=${'é'.repeat(64)}`],
    ];
    for (const [i, [subject, expected]] of cases.entries()) {
      const data = join(dir, `accepted-${i}`);
      const made = await run(['ca', 'init', '--data', data, '--subject', subject]);
      expect(made.code, made.err).toBe(0);
      const printed = await run(['ca', 'show', '--data', data, '--pem']);
      files.write(`ca-${i}.pem`, `${printed.out}\n`);
      const shown = await files.run(['x509', '-in', `ca-${i}.pem`, '-noout', '-subject', '-nameopt', 'RFC2253,-esc_msb']);
      expect(shown.status, shown.stderr).toBe(0);
      // RFC2253 prints RDNs last first; Credence encodes them in the order written (as before), so compare as sets.
      const rdns = (text: string) => text.split(/(?<!\\),/).sort();
      expect(rdns(shown.stdout.trim().replace(/^subject=/, ''))).toEqual(rdns(expected));
    }
  });
});
