import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ATOMIC_WRITE_TEMP, atomicWriteTempOf } from '../adapters/driven/files/index.ts';
import { lockDataFolder, openServiceSecureEnvironment } from '../adapters/runtime/index.ts';
import { runCli } from './support/cli.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { firstValidationIssue } from './support/validation-refusal.ts';

/*
 * Review 59 item 2: writeFileAtomic writes `.<name>.<pid>.<random>.tmp` beside its target and renames (or links) it; a
 * kill in between left it for good. A kill during `credence ca init` left `.secure-environment.kek.<pid>.<random>.tmp`,
 * a whole KEK, in a folder that is copied and backed up, past the `kek_in_folder` check. Taking the folder's lock now
 * removes such files (those names only), and the check refuses one that is still there.
 */
const scratch = temporaryFolders('credence-strays-');
const now = () => new Date('2026-01-01T00:00:00Z');
const random = (n: number) => new Uint8Array(randomBytes(n));

/** Above Linux's largest pid (2^22): never a running process, as the pid of a killed writer is not. */
const DEAD_PID = 4_194_305;

const OWN_PID_STRAY = `.replay-checkpoint.json.${process.pid}.ffffffffffff.tmp`;

const STRAYS = [
  `.secure-environment.kek.${DEAD_PID}.0123456789ab.tmp`,
  `.service.lock.${DEAD_PID}.a1b2c3d4e5f6.tmp`,
  // this very pid: a dead run's (pid 1 again in a restarted container)
  OWN_PID_STRAY,
  join('pki', `.root.ca.json.${DEAD_PID}.00000000abcd.tmp`),
];

/** Names that look alike but are no temp name of writeFileAtomic's, or not a stray, or not where it writes: kept. */
const KEPT = [
  `.secure-environment.kek.${DEAD_PID}.tmp`, // no random part
  `.service.lock.${DEAD_PID}.A1B2C3D4E5F6.tmp`, // upper-case hex
  `.service.lock.${DEAD_PID}.0123456789abc.tmp`, // 13 hex digits
  `service.lock.${DEAD_PID}.0123456789ab.tmp`, // not hidden
  `.service.lock.${DEAD_PID}.0123456789ab.tmp.bak`,
  `.service.lock.0.0123456789ab.tmp`, // no process has pid 0
  // a running process's (its parent's): one that writes without the lock (credence replay's checkpoint) may be writing it
  `.replay-checkpoint.json.${process.ppid}.0123456789ab.tmp`,
  join('other', `.notes.${DEAD_PID}.0123456789ab.tmp`), // a folder Credence does not write to
];

/** A data folder holding STRAYS, KEPT and a folder named as a temp file would be. */
const folderWithStrays = (): string => {
  const dir = join(scratch(), 'data');
  for (const sub of ['', 'pki', 'other', `.dir.${DEAD_PID}.0123456789ab.tmp`]) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  for (const name of [...STRAYS, ...KEPT]) writeFileSync(join(dir, name), 'a whole KEK, say\n', { mode: 0o600 });
  // An hour old, every one: a fresh temp may be another PID namespace's write in flight, kept whatever its pid
  // (a-fresh-temp-file-is-kept-whatever-its-pid.test.ts).
  const anHourAgo = Date.now() / 1000 - 3600;
  for (const name of [...STRAYS, ...KEPT]) utimesSync(join(dir, name), anHourAgo, anHourAgo);
  return dir;
};

const expectOnlyStraysGone = (dir: string): void => {
  for (const name of STRAYS) expect(existsSync(join(dir, name)), name).toBe(false);
  for (const name of [...KEPT, `.dir.${DEAD_PID}.0123456789ab.tmp`]) expect(existsSync(join(dir, name)), name).toBe(true);
};

const refusal = firstValidationIssue;

describe('a data folder opened under its lock', () => {
  it('by the service loses exactly the temp files interrupted writes left, said at info by name', async () => {
    const dir = folderWithStrays();
    const svc = await startTestService({ dir });
    try {
      expectOnlyStraysGone(dir);
      const said = svc.logs().map((line) => JSON.parse(line) as { level: number; msg: string; removed?: string[] }).find((line) => line.removed !== undefined);
      expect(said).toMatchObject({ level: 30, msg: 'removed the temp files interrupted writes had left in the data folder or beside its KEK file' });
      expect([...(said?.removed ?? [])].sort()).toEqual([...STRAYS].sort());
    } finally {
      await svc.close();
    }
  }, 30_000);

  it('by the CLI (credence ca init) loses exactly them too, and says so on stderr', async () => {
    const dir = folderWithStrays();
    const result = await runCli(['ca', 'init', '--data', dir]);
    expect(result.code, result.err).toBe(0);
    expectOnlyStraysGone(dir);
    expect(result.err).toContain(`credence ca: removed the temp files interrupted writes had left in ${dir} or beside its KEK file:`);
    for (const name of STRAYS) expect(result.err).toContain(name);
    // Names only: what they held is never said.
    expect(result.err).not.toContain('a whole KEK');
  });

  it('by lockDataFolder names what it removed; a folder without strays removes nothing', () => {
    const dir = folderWithStrays();
    const lock = lockDataFolder(dir, {});
    try {
      expect([...lock.removedStrays].sort()).toEqual([...STRAYS].sort());
    } finally {
      lock.release();
    }
    const again = lockDataFolder(dir, {});
    again.release();
    expect(again.removedStrays).toEqual([]);
    expectOnlyStraysGone(dir);
  });
});

describe('the temp name writeFileAtomic writes', () => {
  it('left by a kill between linking a KEK and unlinking its temp name is what the sweep matches', () => {
    const folder = scratch();
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'test/support/kill-during-write.ts', 'kek', folder, 'unlinkSync', '1'], { encoding: 'utf8' });
    expect(child.signal).toBe('SIGKILL');
    const temps = readdirSync(folder).filter((name) => name !== 'kek');
    expect(temps).toHaveLength(1);
    expect(temps[0]).toMatch(ATOMIC_WRITE_TEMP);
    expect(atomicWriteTempOf(temps[0]!)).toEqual({ target: 'kek', pid: child.pid });
  });
});

describe('a KEK named outside the data folder (CREDENCE_KEK_FILE)', () => {
  it('is refused (kek_in_folder) while a temp file of the in-folder KEK is left in the folder, naming it; nothing is made', async () => {
    const dir = join(scratch(), 'data');
    const se = openServiceSecureEnvironment(dir, undefined, { now, random, env: {} });
    se.close();
    // The KEK moved out as documented, the second name a kill between link and unlink left still in the folder.
    const outside = join(scratch(), 'credence.kek');
    renameSync(join(dir, 'secure-environment.kek'), outside);
    const stray = join(dir, `.secure-environment.kek.${DEAD_PID}.0123456789ab.tmp`);
    writeFileSync(stray, 'a whole KEK\n', { mode: 0o600 });
    const before = readdirSync(dir).sort();
    const issue = refusal(() => openServiceSecureEnvironment(dir, undefined, { now, random, env: { CREDENCE_KEK_FILE: outside } }));
    expect(issue).toMatchObject({ path: 'env CREDENCE_KEK_FILE', rule: 'kek_in_folder' });
    expect(issue?.message).toContain(stray);
    expect(readdirSync(dir).sort()).toEqual(before);
    // Once it is deleted, the moved KEK opens the folder.
    unlinkSync(stray);
    openServiceSecureEnvironment(dir, undefined, { now, random, env: { CREDENCE_KEK_FILE: outside } }).close();
  });
});
