/**
 * Review 166: only the public half of the Registrar CSE's signing key deleted from the token under the running
 * service (`pkcs11-tool --delete-object --type pubkey`). Commit 119993f made such a pair `token_integrity`, but as a
 * `validation` issue: an unauthenticated GET /v1/registrar answered 400 "Invalid request" with the key's handle in the
 * detail (a server fault told to a client as its own mistake, which it does not retry), and /readyz stayed 200, its
 * signing-key check looking only at `not_found`. Now the fault is the service's: 503 `secure_environment_unavailable`,
 * reason `token_integrity`, the handle in the log only; and /readyz is 503 naming that reason until the token is
 * restored, then ready again by itself.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { withServedHsmFolder } from './support/served-hsm-folder.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-registrar-half-pair-');

describe.skipIf(softHsmMissing !== undefined)('the Registrar signing key with its public half deleted from the token', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('halfregistrar');

  /** Someone holding the PIN deletes the public object alone (pkcs11-tool, another process). */
  const deletePublicHalf = (handle: KeyHandle) => hsm.deleteObjects(token, handle, ['pubkey']);

  it('is a 503 token_integrity without the handle on a public route, /readyz is 503 naming the reason, and a restored token is ready again', async () => {
    const data = join(scratch(), 'data');
    await withServedHsmFolder(hsm, token, data, async ({ registrarKey, readyz, pinned, backUpTokens, restoreTokens }) => {
      expect((await pinned()).status).toBe(200);
      expect((await readyz()).status).toBe(200);

      backUpTokens();
      deletePublicHalf(registrarKey);

      // The service's fault, retryable once its operator acts: never "your request is invalid", never the handle.
      const refused = await pinned();
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).not.toBeNull();
      const answer = await refused.text();
      expect(JSON.parse(answer)).toMatchObject({ status: 503, type: expect.stringMatching(/secure_environment_unavailable$/), reason: 'token_integrity' });
      expect(answer).not.toContain(registrarKey);
      expect(answer).not.toMatch(/Invalid request|"errors"/);

      const unready = await readyz();
      expect(unready.status).toBe(503);
      const said = await unready.text();
      expect(JSON.parse(said)).toMatchObject({ status: 503, check: 'secure_environment', reason: 'token_integrity' });
      expect(said).not.toContain(registrarKey);

      // The token restored from a backup that holds the public half: ready again without any device request first.
      restoreTokens();
      await expect.poll(async () => (await readyz()).status, { timeout: 15_000, interval: 500 }).toBe(200);
      expect((await pinned()).status).toBe(200);
    });
  }, 60_000);
});
