import { copyFileSync, cpSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDataFolderSecureEnvironment } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { ownerView } from '../domain/ports/index.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 243 finding 3: refused kek_rotated_since_backup with the KEK outside the folder, `key destroy-since-backup`
 * said the file CREDENCE_KEK_FILE names "holds the KEK <data>.before-restore opens under", whichever file it named:
 * also the fresh copy of the backup's KEK README step 4 says to make for the restored folder. It now says so only of
 * a KEK that opens the check value of the folder moved aside, and of one that opens the restored folder's, that.
 */
const scratch = temporaryFolders('credence-destroy-since-kek-file-');

const credence = async (argv: string[], env: Record<string, string> = {}) => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

/** Backed up with a copy of its KEK, a key destroyed, the KEK rotated, moved aside and the backup copied into place. */
const restoredFromBeforeARotation = async () => {
  const root = scratch();
  const data = join(root, 'data');
  const secrets = join(root, 'secrets');
  mkdirSync(secrets, { mode: 0o700 });
  const kekFile = join(secrets, 'credence.kek');
  const se = openDataFolderSecureEnvironment(data, { now: () => new Date(), kekFile });
  const shredded = await ownerView(se, 'maf:infrastructure').generate('psk256');
  se.close();
  cpSync(data, join(root, 'backup'), { recursive: true });
  const backupKek = join(root, 'backup.kek');
  copyFileSync(kekFile, backupKek);
  const again = openDataFolderSecureEnvironment(data, { now: () => new Date(), kekFile });
  await ownerView(again, 'maf:infrastructure').destroy(shredded);
  again.close();
  expect((await credence(['kek', 'rotate', '--data', data], { CREDENCE_KEK_FILE: kekFile })).code).toBe(0);
  const aside = join(root, 'data.before-restore');
  renameSync(data, aside);
  cpSync(join(root, 'backup'), data, { recursive: true });
  return { data, aside, kekFile, backupKek, secrets };
};

describe('key destroy-since-backup refused kek_rotated_since_backup, the KEK outside the folder', () => {
  it('CREDENCE_KEK_FILE naming the KEK the folder moved aside opens under: never to overwrite it', async () => {
    const { data, aside, kekFile } = await restoredFromBeforeARotation();
    const run = await credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside], { CREDENCE_KEK_FILE: kekFile });
    expect(run.code).toBe(1);
    expect(run.err).toContain(`never overwrite ${kekFile}: it holds the KEK ${aside} opens under`);
  });

  it('CREDENCE_KEK_FILE naming a fresh copy of the backup\'s KEK: said to be the restored folder\'s, never the one moved aside\'s', async () => {
    const { data, aside, backupKek, secrets } = await restoredFromBeforeARotation();
    const fresh = join(secrets, 'restored.kek');
    copyFileSync(backupKek, fresh);
    const run = await credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside], { CREDENCE_KEK_FILE: fresh });
    expect(run.code).toBe(1);
    expect(run.err).toContain('[kek_rotated_since_backup]');
    expect(run.err).not.toContain(`it holds the KEK ${aside} opens under`);
    expect(run.err).toContain(`${fresh} holds the KEK ${data} opens under`);
    expect(run.err).toContain(`CREDENCE_KEK_FILE=${fresh} credence kek rotate --data ${data}`);
  });
});
