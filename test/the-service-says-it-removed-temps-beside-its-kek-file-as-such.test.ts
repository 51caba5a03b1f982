import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openServiceSecureEnvironment } from '../adapters/runtime/index.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { withKekFile } from './support/kek-file-env.ts';

/*
 * Taking the folder's lock also removes the temps a killed write left beside a KEK CREDENCE_KEK_FILE keeps outside
 * the folder, by full path; the service said it had removed what was "left in the data folder", which such a file
 * was not. It now says where they were.
 */
const scratch = temporaryFolders('credence-service-kek-strays-');

/** Above Linux's largest pid (2^22): never a running process, as the pid of a killed writer is not. */
const DEAD_PID = 4_194_305;
const KEK = 'credence.kek';
const OLD_STRAY = `.${KEK}.${DEAD_PID}.0123456789ab.tmp`;


describe('the service started on a folder whose KEK is kept outside it', () => {
  it('says at info that it removed the temps left beside its KEK file, by full path, naming where they were', async () => {
    const dir = join(scratch(), 'data');
    const kekFolder = join(scratch(), 'secrets');
    mkdirSync(kekFolder, { mode: 0o700 });
    const kek = join(kekFolder, KEK);
    openServiceSecureEnvironment(dir, undefined, { now: () => new Date(), random: (n) => new Uint8Array(randomBytes(n)), env: { CREDENCE_KEK_FILE: kek } }).close();
    writeFileSync(join(kekFolder, OLD_STRAY), 'a whole KEK, say\n', { mode: 0o600 });
    const anHourAgo = Date.now() / 1000 - 3600;
    utimesSync(join(kekFolder, OLD_STRAY), anHourAgo, anHourAgo);

    const said = await withKekFile(kek, async () => {
      const svc = await startTestService({ dir });
      try {
        return svc.logs().map((line) => JSON.parse(line) as { level: number; msg: string; removed?: string[] }).find((line) => line.removed !== undefined);
      } finally {
        await svc.close();
      }
    });

    expect(existsSync(join(kekFolder, OLD_STRAY))).toBe(false);
    expect(said).toMatchObject({ level: 30, msg: 'removed the temp files interrupted writes had left in the data folder or beside its KEK file' });
    expect(said?.removed).toEqual([join(kekFolder, OLD_STRAY)]);
  }, 30_000);
});
