/**
 * Review 299 F2: a data folder restored in part (access.db and transparency.* missing) whose keys.db names keys,
 * started with a PKCS#11 token that holds none of them (another token than the folder's). Before, the start made a
 * log key and an API token signing key in that token and wrote access.db, transparency.db, .handle and .pub, and only
 * then was refused (the Enrolment Function key missing); the next start, with the folder's own token, was refused
 * `access_signing_key_present`. Now it is refused before the lock, by the check `ca init` and `key *` make
 * (secure_environment_of_the_folder): no file written, no object made in either token; the right token still starts.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceConfig } from '../adapters/http/config.ts';
import { startService } from '../adapters/http/start.ts';
import { folderFiles } from './support/folder-files.ts';
import { withServedHsmFolder } from './support/served-hsm-folder.ts';
import { softHsm, softHsmMissing, type TestToken } from './support/softhsm.ts';

describe.skipIf(softHsmMissing !== undefined)("a start with a PKCS#11 token holding none of the folder's keys", () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  // Made before the module is first opened in this process (support/softhsm.ts).
  const folders = hsm.token('credence');
  const other = hsm.token('other');
  const data = join(hsm.dir, 'served');
  const start = (token: TestToken) =>
    startService(serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'silent', durability: 'normal', data, secureEnvironment: token.uri() }));
  const snapshot = () => ({ folder: folderFiles(data), folders: hsm.listObjects(folders), other: hsm.listObjects(other) });

  it('is refused before anything is written or made, and the folder then starts with its own token', async () => {
    await withServedHsmFolder(hsm, folders, data, async () => undefined);
    // The partial restore: keys.db (its infrastructure keys) kept, access.db and the log's files lost.
    for (const name of readdirSync(data)) if (name.startsWith('access.db') || name.startsWith('transparency.')) rmSync(join(data, name));
    const before = snapshot();

    const refused = await start(other).then(
      async (service) => {
        await service.close();
        return undefined;
      },
      (error: unknown) => error,
    );
    expect(String(refused)).toMatch(/the data folder names \d+ keys? \(.*key_\S+.*\) and the PKCS#11 token this command was given holds none of them/s);
    expect(String(refused)).toContain('Nothing was made, destroyed or written');
    expect(snapshot()).toEqual(before);

    const service = await start(folders);
    await service.close();
  });
});
