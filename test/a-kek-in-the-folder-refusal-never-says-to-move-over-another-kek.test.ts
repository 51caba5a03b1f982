import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openServiceSecureEnvironment } from '../adapters/runtime/index.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { firstValidationIssue } from './support/validation-refusal.ts';

/*
 * Review 243 finding 1: with a KEK still in the data folder and CREDENCE_KEK_FILE naming another file, the refusal
 * (kek_in_folder) always said to move the folder's KEK to that path, even when a different KEK was already there: as
 * after a whole-folder restore of a backup that held its KEK, the folder moved aside then opening under the file named,
 * whose KEK the move would have destroyed. Another KEK there is said, never to be moved over; the same bytes, or no
 * file yet, keep the move.
 */
const scratch = temporaryFolders('credence-kek-in-folder-move-');
const random = (n: number) => new Uint8Array(randomBytes(n));
const now = () => new Date('2026-01-01T00:00:00Z');
const IN_FOLDER = 'secure-environment.kek';

const open = (dir: string, env: Record<string, string>) => openServiceSecureEnvironment(dir, undefined, { now, random, env });

const keyIn = async (dir: string, env: Record<string, string>): Promise<void> => {
  const se = open(dir, env);
  try {
    await se.generate('maf:infrastructure', 'ed25519');
  } finally {
    se.close();
  }
};

const refusal = firstValidationIssue;

const folderWithItsKek = async () => {
  const dir = join(scratch(), 'data');
  await keyIn(dir, {});
  const secrets = join(scratch(), 'secrets');
  mkdirSync(secrets, { mode: 0o700 });
  return { dir, outside: join(secrets, 'credence.kek') };
};

describe('kek_in_folder with CREDENCE_KEK_FILE naming a file that exists', () => {
  it('another KEK there: says so and never to move the folder\'s over it, pointing to the restore step', async () => {
    const { dir, outside } = await folderWithItsKek();
    await keyIn(join(scratch(), 'aside'), { CREDENCE_KEK_FILE: outside });

    const issue = refusal(() => open(dir, { CREDENCE_KEK_FILE: outside }));
    expect(issue).toMatchObject({ path: 'env CREDENCE_KEK_FILE', rule: 'kek_in_folder' });
    expect(issue?.message).not.toContain(`move that file to ${outside}`);
    expect(issue?.message).toContain(`${outside} holds another KEK than ${join(dir, IN_FOLDER)}`);
    expect(issue?.message).toContain(`never move ${join(dir, IN_FOLDER)} over it`);
    expect(issue?.message).toContain('README "Restoring a whole data folder", step 4');
    for (const kek of [outside, join(dir, IN_FOLDER)]) expect(issue?.message).not.toContain(readFileSync(kek, 'utf8').trim());
  });

  it('the same KEK there (a copy): the move is still the way out', async () => {
    const { dir, outside } = await folderWithItsKek();
    copyFileSync(join(dir, IN_FOLDER), outside);

    const issue = refusal(() => open(dir, { CREDENCE_KEK_FILE: outside }));
    expect(issue).toMatchObject({ rule: 'kek_in_folder' });
    expect(issue?.message).toContain(`move that file to ${outside}`);
  });
});
