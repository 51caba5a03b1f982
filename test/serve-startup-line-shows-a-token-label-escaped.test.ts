/**
 * Found in review: `credence serve`'s startup line printed its settings raw (the data folder, the embedded store's
 * folder, the PKCS#11 token's label). Paths with control characters are now refused by the configuration; a token
 * label may still hold one (percent-encoded in the URI, as RFC 7512 allows), so the line goes through printable.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { softHsm, softHsmMissing } from './support/softhsm.ts';
import { startServe } from './support/serve-process.ts';

describe.skipIf(softHsmMissing !== undefined)('credence serve startup line', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('t\u001b]0;PWNED\u0007');
  const uri = token.uri().replace(/&pin-source=[^&]*/, '');

  it('shows a PKCS#11 token label holding escapes escaped, on the one line', async () => {
    const serve = startServe(['--data', join(hsm.dir, 'data'), '--port', '0', '--secure-environment', uri], { PORT: '', CREDENCE_PKCS11_PIN: token.pin }, /^Credence listening on .*\n/m);
    try {
      const [line] = await serve.ready;
      expect(line).toContain('keys in PKCS#11 token "t\\u001b]0;PWNED\\u0007"');
      expect(line).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    } finally {
      serve.child.kill('SIGTERM');
    }
    expect(await serve.exitCode()).toBe(0);
  }, 90_000);
});
