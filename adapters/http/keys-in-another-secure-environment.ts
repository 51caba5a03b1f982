import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { validationError } from '../../domain/errors.ts';
import { isEmbedded } from '../runtime/data-folder.ts';
import { refuseAKeyNoSecureEnvironmentHolds } from './auth/open-access-control.ts';

/** The log key's handle file (KEY_HANDLE_FILE of adapters/driven/transparency, not reachable from here). */
const KEY_HANDLE_FILE = 'transparency.handle';

/**
 * Refuses, before the data folder is locked or its Secure Environment opened, a folder opened with the embedded Secure
 * Environment whose keys are in another one (an HSM): its transparency log key named by `transparency.handle`, or an
 * access.db naming a signing key while the folder has no embedded Secure Environment. Opening the embedded one would
 * make it (secure-environment.kek, .sqlite, .wrapping-keys) only to be refused a step later (review 49): the refusal
 * leaves the folder as it was. The transparency check repeats, earlier and typed, the one of openTransparencyInDir.
 */
export const refuseKeysInAnotherSecureEnvironment = (dataDir: string, setting: string | undefined): void => {
  if (!isEmbedded(setting)) return;
  if (existsSync(join(dataDir, KEY_HANDLE_FILE))) {
    throw validationError(
      [
        {
          path: 'secureEnvironment',
          rule: 'log_key_in_secure_environment',
          message:
            `the transparency log key of ${dataDir} is in its Secure Environment (${KEY_HANDLE_FILE} names it), not in a key file: ` +
            "open the folder with that Secure Environment (the service's --secure-environment, CREDENCE_SECURE_ENVIRONMENT; docs/hsm.md)",
        },
      ],
      'data folder',
    );
  }
  refuseAKeyNoSecureEnvironmentHolds(dataDir, setting);
};
