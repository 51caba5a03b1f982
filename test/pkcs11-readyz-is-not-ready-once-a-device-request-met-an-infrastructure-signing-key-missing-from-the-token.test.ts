/**
 * Review 162 follow-up: the Registrar CSE's signing key deleted from the token under the running service. Commit
 * 119993f made every device request that needs it a typed 503 naming the key, but GET /readyz still answered 200, so
 * a load balancer kept sending devices to an instance that refused each of them. Now, once a request has met that
 * refusal, /readyz is 503 `secure_environment` with the key's reason (not its handle: the answer is public) until the
 * key is found again: /readyz looks for it again by itself, at most every few seconds (a service out of its load
 * balancer gets no device request to do it), and a healthy service makes no Secure Environment call for it.
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

const scratch = temporaryFolders('credence-readyz-key-missing-');
const hex = (handle: string) => Buffer.from(handle, 'utf8').toString('hex');

describe.skipIf(softHsmMissing !== undefined)('/readyz with an infrastructure signing key deleted from the token', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('readykeys');
  const tokens = join(hsm.dir, 'tokens');

  /** Someone holding the PIN deletes both halves of the key pair (pkcs11-tool, another process). */
  const deleteKey = (handle: KeyHandle) => {
    for (const type of ['privkey', 'pubkey']) {
      execFileSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', token.label, '--login', '--pin', token.pin, '--delete-object', '--type', type, '--id', hex(handle)], { stdio: 'ignore' });
    }
  };

  it('is 503 naming the reason once a device request met the refusal, and ready again by itself once the token is restored', async () => {
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
      cpSync(backup, tokens, { recursive: true, force: true });
      await expect.poll(async () => (await readyz()).status, { timeout: 15_000, interval: 500 }).toBe(200);
      expect((await pinned()).status).toBe(200);
    } finally {
      await service.close();
      rmSync(backup, { recursive: true, force: true });
    }
  }, 60_000);
});
