import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { serviceConfig } from '../../adapters/http/config.ts';
import { startService, type RunningService } from '../../adapters/http/start.ts';
import type { KeyHandle } from '../../domain/ports/secure-environment.ts';
import type { SoftHsm, TestToken } from './softhsm.ts';

/** A service serving a fresh data folder on a SoftHSM2 token, with its Registrar signing key and a backup of the token folder. */
export interface ServedHsmFolder {
  readonly service: RunningService;
  /** The handle of the Registrar CSE's signing key in the token. */
  readonly registrarKey: KeyHandle;
  /** GET /readyz. */
  readyz(): Promise<Response>;
  /** GET /v1/registrar, unauthenticated: a route that needs the Registrar signing key. */
  pinned(): Promise<Response>;
  /** Copies the SoftHSM2 tokens folder aside (removed when the service is closed). */
  backUpTokens(): void;
  /** Puts the copy taken by `backUpTokens` back over the tokens folder (the token restored from its backup). */
  restoreTokens(): void;
}

/** Runs `run` against a service started on `token` with its data in `data`, then closes it and removes the backup. */
export const withServedHsmFolder = async (hsm: SoftHsm, token: TestToken, data: string, run: (served: ServedHsmFolder) => Promise<void>): Promise<void> => {
  const tokens = join(hsm.dir, 'tokens');
  const service = await startService(serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'silent', durability: 'normal', data, secureEnvironment: token.uri() }));
  const backup = join(hsm.dir, 'tokens.backup');
  try {
    const { infrastructure } = await service.context.credence.security();
    await run({
      service,
      registrarKey: infrastructure.signing.registrar,
      readyz: () => fetch(`${service.url}/readyz`),
      pinned: () => fetch(`${service.url}/v1/registrar`),
      backUpTokens: () => cpSync(tokens, backup, { recursive: true }),
      restoreTokens: () => cpSync(backup, tokens, { recursive: true, force: true }),
    });
  } finally {
    await service.close();
    rmSync(backup, { recursive: true, force: true });
  }
};
