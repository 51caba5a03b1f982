/**
 * Review 162 follow-up: the Registrar CSE's signing key deleted from the token under the running service. Commit
 * 119993f made every device request that needs it a typed 503 naming the key, but GET /readyz still answered 200, so
 * a load balancer kept sending devices to an instance that refused each of them. Now, once a request has met that
 * refusal, /readyz is 503 `secure_environment` with the key's reason (not its handle: the answer is public) until the
 * key is found again: /readyz looks for it again by itself, at most every few seconds (a service out of its load
 * balancer gets no device request to do it), and a healthy service makes no Secure Environment call for it.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { withServedHsmFolder } from './support/served-hsm-folder.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-readyz-key-missing-');

describe.skipIf(softHsmMissing !== undefined)('/readyz with an infrastructure signing key deleted from the token', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('readykeys');

  /** Someone holding the PIN deletes both halves of the key pair (pkcs11-tool, another process). */
  const deleteKey = (handle: KeyHandle) => hsm.deleteObjects(token, handle, ['privkey', 'pubkey']);

  it('is 503 naming the reason once a device request met the refusal, and ready again by itself once the token is restored', async () => {
    const data = join(scratch(), 'data');
    await withServedHsmFolder(hsm, token, data, async ({ registrarKey, readyz, pinned, backUpTokens, restoreTokens }) => {
      expect((await pinned()).status).toBe(200);
      expect((await readyz()).status).toBe(200);

      backUpTokens();
      deleteKey(registrarKey);
      const refused = await pinned();
      expect(refused.status).toBe(503);
      expect(await refused.json()).toMatchObject({ reason: 'registrar_signing_key_missing' });

      const unready = await readyz();
      expect(unready.status).toBe(503);
      expect(unready.headers.get('retry-after')).toBe('5');
      const said = await unready.text();
      expect(JSON.parse(said)).toMatchObject({ status: 503, check: 'secure_environment', reason: 'registrar_signing_key_missing' });
      // The handle is for the service's log, not for a public answer.
      expect(said).not.toContain(registrarKey);
      // Asked again at once: the refusal held, not a look in the token per probe.
      expect((await readyz()).status).toBe(503);

      // The token restored from a backup that holds the key: ready again without any device request first.
      restoreTokens();
      await expect.poll(async () => (await readyz()).status, { timeout: 15_000, interval: 500 }).toBe(200);
      expect((await pinned()).status).toBe(200);
    });
  }, 60_000);
});
