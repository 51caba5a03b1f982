import { cpSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 131 finding 2: README's whole-folder restore step 2 lists the tokens of the folder moved aside and of the
 * restored one (`credence token list [--all] --data …`). With the KEK outside the folder (CREDENCE_KEK_FILE) and
 * `credence kek rotate` run since the backup, the two folders open under two KEKs, and one CREDENCE_KEK_FILE opens one
 * of them: `token list` opened the whole Secure Environment to read access.db, and the other was refused
 * `kek_matches_database`. A listing signs and verifies nothing: it now reads access.db alone, read-only, so it lists
 * either folder whatever KEK the command is given, and leaves it byte for byte as it was.
 */
const scratch = temporaryFolders('credence-token-list-any-kek-');

const credence = async (argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

/** Every file of the folder, its bytes and modification time, by name. */
const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(readdirSync(dir).map((name) => [name, `${statSync(join(dir, name)).mtimeMs}:${readFileSync(join(dir, name)).toString('base64')}`]));

type Listed = { tokens: { tokenId: string; subject: string; state: string }[] };

describe('credence token list --data on a folder whose KEK is not the one CREDENCE_KEK_FILE names', () => {
  it('lists the restored folder and the folder moved aside after a KEK rotation since the backup, and writes nothing to either', async () => {
    const root = scratch();
    const data = join(root, 'data');
    const env = { CREDENCE_KEK_FILE: join(root, 'secrets', 'credence.kek') };
    const idOf = async (subject: string): Promise<string> => {
      const made = await credence(['token', 'create', '--data', data, '--role', 'auditor', '--subject', subject, '--ttl', '1h', '--json'], env);
      expect(made.code, made.err).toBe(0);
      return (JSON.parse(made.out) as { tokenId: string }).tokenId;
    };
    const before = await idOf('before-backup');
    cpSync(data, join(root, 'backup'), { recursive: true });
    expect((await credence(['token', 'revoke', before, '--data', data], env)).code).toBe(0);
    const since = await idOf('since-backup');
    expect((await credence(['kek', 'rotate', '--data', data], env)).code).toBe(0);
    const aside = join(root, 'data.before-restore');
    renameSync(data, aside);
    cpSync(join(root, 'backup'), data, { recursive: true });

    // CREDENCE_KEK_FILE holds the rotated KEK: the folder moved aside opens under it, the restored one does not.
    for (const [dir, expected] of [
      [aside, { [before]: 'revoked', [since]: 'active' }],
      [data, { [before]: 'active' }],
    ] as const) {
      const untouched = snapshot(dir);
      const listed = await credence(['token', 'list', '--all', '--json', '--data', dir], env);
      expect(listed.code, listed.err).toBe(0);
      const states = Object.fromEntries((JSON.parse(listed.out) as Listed).tokens.map((t) => [t.tokenId, t.state]));
      expect(states).toEqual(expected);
      expect(snapshot(dir)).toEqual(untouched);
    }
  });
});

describe('credence token list --data reads access.db as the version that wrote it left it', () => {
  const folderWithAToken = async (): Promise<{ data: string; tokenId: string }> => {
    const data = join(scratch(), 'data');
    const made = await credence(['token', 'create', '--data', data, '--role', 'auditor', '--subject', 'ops', '--ttl', '1h', '--json']);
    expect(made.code, made.err).toBe(0);
    return { data, tokenId: (JSON.parse(made.out) as { tokenId: string }).tokenId };
  };
  const edit = (data: string, sql: string): void => {
    const db = new Database(join(data, 'access.db'));
    try {
      db.exec(sql);
    } finally {
      db.close();
    }
  };

  it('one of version 2 (no scope, the signing key in settings): listed, the file left as it was (no upgrade written)', async () => {
    const { data, tokenId } = await folderWithAToken();
    edit(
      data,
      `DROP INDEX tokens_signed_with; ALTER TABLE tokens DROP COLUMN scope; ALTER TABLE tokens DROP COLUMN signed_with;
       INSERT INTO settings (name, value) SELECT 'signing-key', handle FROM signing_keys; DROP TABLE signing_keys; PRAGMA user_version = 2;`,
    );
    const untouched = snapshot(data);
    const listed = await credence(['token', 'list', '--json', '--data', data]);
    expect(listed.code, listed.err).toBe(0);
    expect((JSON.parse(listed.out) as Listed).tokens.map((t) => [t.tokenId, t.state])).toEqual([[tokenId, 'active']]);
    expect(snapshot(data)).toEqual(untouched);
  });

  it('one a newer version wrote: refused naming its schema version, nothing read as this version\'s', async () => {
    const { data } = await folderWithAToken();
    edit(data, 'PRAGMA user_version = 99;');
    const listed = await credence(['token', 'list', '--data', data]);
    expect(listed.code).not.toBe(0);
    expect(listed.err).toContain('access registry file has schema version 99, newer than this build supports (4)');
  });
});
