/**
 * Review 332, finding 1, as found: a served folder whose CA key is in a SoftHSM2 token, the CA's private key deleted
 * there (`pkcs11-tool --delete-object --type privkey`) while the service runs. What needs that key is refused as a
 * Secure Environment fault, `ca_signing_key_missing` (the CA, its file and the remedy in the message; a 503, not a
 * bare 500), and /readyz is 503 with that reason until the key is found again: restored with the token from a backup,
 * the service is ready again by itself, with no request needing the key first.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { caFilePath } from '../adapters/driven/pki/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { runCli } from './support/cli.ts';
import { withServedHsmFolder } from './support/served-hsm-folder.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-ca-key-deleted-');

describe.skipIf(softHsmMissing !== undefined)('a CA private key deleted from the token while the service runs', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('cakeygone');

  it('is refused as ca_signing_key_missing naming the CA, /readyz 503 with that reason, and ready again once the token is restored', async () => {
    const data = join(scratch(), 'data');
    const made = await runCli(['ca', 'init', '--data', data], { CREDENCE_SECURE_ENVIRONMENT: token.uri().replace(/&pin-source=[^&]*/, ''), CREDENCE_PKCS11_PIN: token.pin });
    expect(made.code, made.err).toBe(0);
    const handle = (JSON.parse(readFileSync(caFilePath(data, 'default'), 'utf8')) as { keyHandle: KeyHandle }).keyHandle;
    await withServedHsmFolder(hsm, token, data, async ({ service, readyz, backUpTokens, restoreTokens }) => {
      expect((await readyz()).status).toBe(200);
      backUpTokens();
      hsm.deleteObjects(token, handle, ['privkey']);
      const ca = service.context.pki!.cas[0]!;
      const refused: unknown = await ca.signer.sign(new Uint8Array([1, 2, 3])).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(isCredenceError(refused, 'secure_environment_unavailable'), String(refused)).toBe(true);
      if (!isCredenceError(refused) || refused.problem.code !== 'secure_environment_unavailable') return;
      expect(refused.problem.reason).toBe('ca_signing_key_missing');
      expect(refused.message).toContain('pki/default.ca.json');

      const unready = await readyz();
      expect(unready.status).toBe(503);
      const said = await unready.text();
      expect(JSON.parse(said)).toMatchObject({ check: 'secure_environment', reason: 'ca_signing_key_missing' });
      expect(said).not.toContain(handle);

      restoreTokens();
      await expect.poll(async () => (await readyz()).status, { timeout: 15_000, interval: 500 }).toBe(200);
      await expect(ca.signer.sign(new Uint8Array([1, 2, 3]))).resolves.toBeInstanceOf(Uint8Array);
    });
  }, 90_000);
});
