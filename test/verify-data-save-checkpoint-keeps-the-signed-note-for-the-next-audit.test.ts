import Database from 'better-sqlite3';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { lockDataFolder } from '../adapters/runtime/data-folder.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { capture } from './support/cli.ts';
import { exportedFolder } from './support/exported-folder.ts';
import { tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review 88: the README tells auditors to keep a checkpoint from each audit for the next `--checkpoint
 * SAVED.txt`, but `verify --data` never gave the signed note. `--save-checkpoint FILE` writes it when the audit passes,
 * and `--json` carries it as `checkpointNote`.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const folder = async () => {
  const { dir } = await exportedFolder(dirs, 9);
  const log = openTransparencyLogInDir(dir);
  const latest = log.latestCheckpoint()!.note;
  log.close();
  return { dir, latest, key: readFileSync(join(dir, 'transparency.pub'), 'utf8').trim() };
};
const verify = async (args: string[]) => {
  const c = capture();
  return { code: await verifyCommand(args, c.io), out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('verify --data --save-checkpoint FILE', () => {
  it('writes the latest signed checkpoint of a passed audit, which the next audit takes as --checkpoint', async () => {
    const f = await folder();
    const saved = join(dirs.make(), 'saved.txt');
    const first = await verify(['--data', f.dir, '--key', f.key, '--save-checkpoint', saved]);
    expect(first.code, first.err).toBe(0);
    expect(readFileSync(saved, 'utf8')).toBe(f.latest);
    const next = await verify(['--data', f.dir, '--key', f.key, '--checkpoint', saved, '--save-checkpoint', saved]);
    expect(next.code, next.err).toBe(0);
    expect(readFileSync(saved, 'utf8')).toBe(f.latest);
  });

  it('prints the note as checkpointNote in --json', async () => {
    const f = await folder();
    const result = await verify(['--data', f.dir, '--key', f.key, '--json']);
    expect(result.code, result.err).toBe(0);
    expect(JSON.parse(result.out)).toMatchObject({ ok: true, checkpointNote: f.latest });
  });

  it('writes nothing when the audit fails, and keeps the checkpoint saved before', async () => {
    const f = await folder();
    const events = new Database(join(f.dir, 'events.db'));
    events.prepare(`UPDATE events SET data = json_set(data, '$.label', 'forged') WHERE position = 4`).run();
    events.close();
    const fresh = join(dirs.make(), 'saved.txt');
    const failed = await verify(['--data', f.dir, '--key', f.key, '--save-checkpoint', fresh]);
    expect(failed.code).toBe(1);
    expect(existsSync(fresh)).toBe(false);
    const kept = join(dirs.make(), 'kept.txt');
    writeFileSync(kept, 'the earlier one\n');
    expect((await verify(['--data', f.dir, '--key', f.key, '--save-checkpoint', kept])).code).toBe(1);
    expect(readFileSync(kept, 'utf8')).toBe('the earlier one\n');
  });

  it('writes nothing when nothing was verified (leaves no checkpoint covers: UNVERIFIED)', async () => {
    const f = await folder();
    const log = new Database(join(f.dir, 'transparency.db'));
    log.exec('DELETE FROM checkpoints;');
    log.close();
    const out = join(dirs.make(), 'saved.txt');
    // Not signed yet only beside the folder's holder, as a running service holds it (elsewhere: TAMPERED unsigned).
    const held = lockDataFolder(f.dir);
    let unverified: Awaited<ReturnType<typeof verify>>;
    try {
      unverified = await verify(['--data', f.dir, '--key', f.key, '--save-checkpoint', out]);
    } finally {
      held.release();
    }
    expect(unverified.code).toBe(1);
    expect(unverified.err).toMatch(/^UNVERIFIED: not_signed_yet: /);
    expect(existsSync(out)).toBe(false);
  });
});
