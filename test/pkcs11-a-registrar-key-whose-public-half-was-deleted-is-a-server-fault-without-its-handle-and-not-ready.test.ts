/**
 * Review 166: only the public half of the Registrar CSE's signing key deleted from the token under the running
 * service (`pkcs11-tool --delete-object --type pubkey`). Commit 119993f made such a pair `token_integrity`, but as a
 * `validation` issue: an unauthenticated GET /v1/registrar answered 400 "Invalid request" with the key's handle in the
 * detail (a server fault told to a client as its own mistake, which it does not retry), and /readyz stayed 200, its
 * signing-key check looking only at `not_found`. Now the fault is the service's: 503 `secure_environment_unavailable`,
 * reason `token_integrity`, the handle in the log only; and /readyz is 503 naming that reason until the token is
 * restored, then ready again by itself.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceConfig } from '../adapters/http/config.ts';
import { startService } from '../adapters/http/start.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { softHsm, softHsmMissing, SOFTHSM_MODULE } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-registrar-half-pair-');
const hex = (handle: string) => Buffer.from(handle, 'utf8').toString('hex');

describe.skipIf(softHsmMissing !== undefined)('the Registrar signing key with its public half deleted from the token', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('halfregistrar');
  const tokens = join(hsm.dir, 'tokens');

  /** Someone holding the PIN deletes the public object alone (pkcs11-tool, another process). */
  const deletePublicHalf = (handle: KeyHandle) =>
    execFileSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', token.label, '--login', '--pin', token.pin, '--delete-object', '--type', 'pubkey', '--id', hex(handle)], {
      stdio: 'ignore',
    });

  it('is a 503 token_integrity without the handle on a public route, /readyz is 503 naming the reason, and a restored token is ready again', async () => {
    const data = join(scratch(), 'data');
    const service = await startService(serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'silent', durability: 'normal', data, secureEnvironment: token.uri() }));
    const backup = join(hsm.dir, 'tokens.backup');
    try {
      const { infrastructure } = await service.context.credence.security();
      const registrarKey = infrastructure.signing.registrar;
      const readyz = () => fetch(`${service.url}/readyz`);
      const pinned = () => fetch(`${service.url}/v1/registrar`);
      expect((await pinned()).status).toBe(200);
      expect((await readyz()).status).toBe(200);

      cpSync(tokens, backup, { recursive: true });
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
      cpSync(backup, tokens, { recursive: true, force: true });
      await expect.poll(async () => (await readyz()).status, { timeout: 15_000, interval: 500 }).toBe(200);
      expect((await pinned()).status).toBe(200);
    } finally {
      await service.close();
      rmSync(backup, { recursive: true, force: true });
    }
  }, 60_000);
});
