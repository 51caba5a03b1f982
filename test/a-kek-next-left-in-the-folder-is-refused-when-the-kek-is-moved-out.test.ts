import { copyFileSync, existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDataFolderSecureEnvironment } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { ownerView } from '../domain/ports/index.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 243 finding 4: a `credence kek rotate` killed after its commit and before its rename leaves the only KEK that
 * opens the keys in `<data>/secure-environment.kek.next`. Moving the KEK out as documented (secure-environment.kek
 * only) left it in the folder, a copy of which then held the live KEK, and the start with CREDENCE_KEK_FILE was refused
 * kek_matches_database with advice that never named it. Now refused kek_in_folder by name, saying to open the folder
 * once in place first, which finishes the rotation; done so, the move goes through.
 */
const scratch = temporaryFolders('credence-kek-next-in-folder-');
const IN_FOLDER = 'secure-environment.kek';

const credence = async (argv: string[], env: Record<string, string> = {}) => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

/** A folder as a rotation killed between its commit and its rename leaves it: the old KEK, and the new one beside. */
const rotationKilledAfterItsCommit = async () => {
  const root = scratch();
  const data = join(root, 'data');
  const se = openDataFolderSecureEnvironment(data, { now: () => new Date() });
  await ownerView(se, 'maf:infrastructure').generate('psk256');
  se.close();
  const old = join(root, 'old.kek');
  copyFileSync(join(data, IN_FOLDER), old);
  expect((await credence(['kek', 'rotate', '--data', data])).code).toBe(0);
  renameSync(join(data, IN_FOLDER), join(data, `${IN_FOLDER}.next`));
  copyFileSync(old, join(data, IN_FOLDER));
  return { root, data };
};

describe('a KEK moved out of a folder a rotation left <kek>.next in', () => {
  it('is refused kek_in_folder naming the .next file and to open the folder in place first; done so, the move goes through', async () => {
    const { root, data } = await rotationKilledAfterItsCommit();
    const outside = join(root, 'credence.kek');
    const next = join(data, `${IN_FOLDER}.next`);
    renameSync(join(data, IN_FOLDER), outside); // the documented move: secure-environment.kek only
    const env = { CREDENCE_KEK_FILE: outside };

    const refused = await credence(['key', 'list', '--data', data], env);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`env CREDENCE_KEK_FILE: names ${outside}, but the data folder still holds ${next}`);
    expect(refused.err).toContain(`the data folder still holds ${next}`);
    expect(refused.err).toContain('open the folder once in place');
    expect(refused.err).not.toContain(readFileSync(next, 'utf8').trim());
    expect(existsSync(next)).toBe(true);

    // As it says: the KEK back, the folder opened once in place (the rotation finished), then moved out.
    renameSync(outside, join(data, IN_FOLDER));
    expect((await credence(['key', 'list', '--data', data])).code).toBe(0);
    expect(existsSync(next)).toBe(false);
    renameSync(join(data, IN_FOLDER), outside);
    const listed = await credence(['key', 'list', '--data', data], env);
    expect(listed.code, listed.err).toBe(0);
  });

  it('with the KEK still in the folder too: refused naming the .next file, before the KEK', async () => {
    const { root, data } = await rotationKilledAfterItsCommit();
    const refused = await credence(['key', 'list', '--data', data], { CREDENCE_KEK_FILE: join(root, 'credence.kek') });
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`the data folder still holds ${join(data, `${IN_FOLDER}.next`)}`);
  });
});
