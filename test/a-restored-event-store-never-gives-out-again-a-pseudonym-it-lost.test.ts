import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { cmd, T0 } from './support/fleet.ts';
import { moveTransparencyLogAside } from './support/restored-folder.ts';
import { startTestService, type TestService } from './support/service.ts';
import { currentPseudonym, eventually, rotateByHand } from './support/pseudonym-epochs.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 149 (SER-011, SER-025): a node's pseudonym is HMAC(key, Node-ID || epoch), the key in keys.db, the rotations in
 * events.db. An events.db restored from a backup (README, "Restoring the event store from a backup", steps 1 to 4)
 * took the rotations since back without a word: the pseudonym rotated away was current again, and the next rotation, by
 * hand or by the daily schedule, gave out once more the pseudonym of the lost epoch, which observers had seen, so
 * they could link the two periods. keys.db now keeps the epoch each node's pseudonym was given out at; the start
 * rotates a node the log holds less of past it, says so, and every later rotation gives out a pseudonym never seen.
 */
const REPO = fileURLToPath(new URL('..', import.meta.url));
const folder = temporaryFolders('credence-pseudonym-restore-');
const HOUR = 3_600_000;

/** A command README gives in backquotes, starting `(umask 077 && <tool> `, its wrapped lines joined. */
const readmeRecipe = (tool: string, after = 0): string => {
  const text = readFileSync(join(REPO, 'README.md'), 'utf8');
  const start = text.indexOf(`\`(umask 077 && ${tool} `, after);
  if (start < 0) throw new Error(`README gives no "(umask 077 && ${tool}" recipe`);
  const end = text.indexOf(')`', start);
  return text.slice(start + 1, end + 1).replace(/\n\s*/g, ' ');
};

/** README's step 7 of "Restoring a whole data folder", its command as given there (wrapped lines joined). */
const readmeStep7 = (data: string, aside: string): string[] => {
  const text = readFileSync(join(REPO, 'README.md'), 'utf8');
  const start = text.indexOf('`credence pseudonym raise-marks-since-backup', text.indexOf('7. Carry over'));
  if (start < 0) throw new Error('README step 7 gives no credence pseudonym raise-marks-since-backup command');
  const command = text.slice(start + 1, text.indexOf('`', start + 1)).replace(/\n\s*/g, ' ');
  return command.replaceAll('<data>.before-restore', aside).replaceAll('<data>', data).split(' ').slice(1);
};

const current = (svc: TestService) => currentPseudonym(svc);

describe('an events.db restored from a backup older than a pseudonym rotation', () => {
  it('gives out no pseudonym again: the start rotates the node past what was given out and says so, the schedule goes on from there', async () => {
    const data = folder();
    const backups = folder();
    const aside = folder();
    const clock = new FakeClock(T0);

    let svc = await startTestService({ dir: data, clock });
    await svc.service.context.credence.engine.execute(cmd.registerNode('meter-1'));
    expect(await eventually(() => current(svc)?.epoch === 0)).toBe(true);
    const given = [current(svc)!.pseudonym!];
    // The backup, taken as README says while the service runs.
    const backup = join(backups, 'events.db');
    const vacuum = spawnSync(
      process.execPath,
      ['-e', `require('better-sqlite3')(${JSON.stringify(join(data, 'events.db'))}, { readonly: true }).exec("VACUUM INTO '${backup}'")`],
      { cwd: REPO, encoding: 'utf8' },
    );
    expect(vacuum.status, vacuum.stderr).toBe(0);
    // Rotated since (the pseudonym exposed, say): epoch 1, published, then lost by the restore.
    const lost = await rotateByHand(svc);
    given.push(lost);
    expect(current(svc)?.epoch).toBe(1);
    await svc.close();

    // Steps 1 to 4.
    for (const name of readdirSync(data).filter((n) => n.startsWith('events.db'))) renameSync(join(data, name), join(aside, name));
    copyFileSync(backup, join(data, 'events.db'));
    rmSync(join(data, 'replay-checkpoint.json'), { force: true });
    moveTransparencyLogAside(data, aside);

    svc = await startTestService({ dir: data, clock });
    try {
      // Recorded before the API listened (the directory shows it once it has read it): neither the pseudonym rotated
      // away nor the one the restore lost is current.
      expect(await eventually(() => current(svc)!.epoch! > 1)).toBe(true);
      const afterStart = current(svc)!;
      expect(afterStart.live).toBe(true);
      expect(afterStart.epoch).toBeGreaterThan(1);
      expect(given).not.toContain(afterStart.pseudonym);
      given.push(afterStart.pseudonym!);
      const warning = svc.logs().find((line) => line.includes('pseudonymsBehindTheirMark'));
      expect(warning).toBeDefined();
      expect(JSON.parse(warning!)).toMatchObject({ level: 40, pseudonymsBehindTheirMark: 1, rotatedPastTheirMark: 1 });
      // Counts only: no pseudonym in a log line.
      for (const pseudonym of given) expect(svc.logs().join('\n')).not.toContain(pseudonym);

      // By hand: a pseudonym never given out.
      const byHand = await rotateByHand(svc);
      expect(given).not.toContain(byHand);
      given.push(byHand);
      // By the daily schedule: likewise.
      const epoch = current(svc)!.epoch!;
      clock.advance(25 * HOUR);
      expect(await eventually(() => current(svc)!.epoch! > epoch)).toBe(true);
      expect(given).not.toContain(current(svc)!.pseudonym);
      given.push(current(svc)!.pseudonym!);
      expect(new Set(given).size).toBe(given.length);

      // A start on the same log finds nothing behind: no rotation, no warning.
      const before = current(svc)!.epoch;
      await svc.restart();
      expect(current(svc)!.epoch).toBe(before);
      expect(svc.logs().filter((line) => line.includes('pseudonymsBehindTheirMark'))).toHaveLength(1);
    } finally {
      await svc.close();
    }

    // The history these rotations make replays clean.
    const { io, out, err } = capture();
    const code = await main(['replay', '--data', data], io);
    expect(code, [...out, ...err].join('\n')).toBe(0);
  }, 120_000);

  it('a whole-folder restore, with the epochs of the folder moved aside raised by the command README step 7 gives: the start rotates past them', async () => {
    const data = folder();
    const backup = join(folder(), 'data');
    const aside = join(folder(), 'data.before-restore');
    const clock = new FakeClock(T0);
    let svc = await startTestService({ dir: data, clock });
    await svc.service.context.credence.engine.execute(cmd.registerNode('meter-1'));
    expect(await eventually(() => current(svc)?.epoch === 0)).toBe(true);
    const given = [current(svc)!.pseudonym!];
    await svc.close();
    cpSync(data, backup, { recursive: true });
    svc = await startTestService({ dir: data, clock });
    given.push(await rotateByHand(svc));
    await svc.close();

    // The folder moved aside whole, the backup copied into place, and step 7.
    renameSync(data, aside);
    cpSync(backup, data, { recursive: true });
    const { io, out, err } = capture();
    expect(await main(readmeStep7(data, aside), { ...io, env: {} }), [...out, ...err].join('\n')).toBe(0);
    expect(out.join('\n')).toContain('raised the pseudonym epoch of 1 node(s)');

    svc = await startTestService({ dir: data, clock });
    try {
      // Recorded before the API listened; the directory shows it once it has read it.
      expect(await eventually(() => current(svc)!.epoch! > 1)).toBe(true);
      expect(given).not.toContain(current(svc)!.pseudonym);
      expect(svc.logs().some((line) => line.includes('"rotatedPastTheirMark":1'))).toBe(true);
      const byHand = await rotateByHand(svc);
      expect(given).not.toContain(byHand);
    } finally {
      await svc.close();
    }
  }, 120_000);
});

describe('the backup recipes README gives', () => {
  it('make a backup of events.db that only its owner reads, whatever the umask', async () => {
    const svc = await startTestService();
    const backups = folder();
    try {
      await svc.service.context.credence.engine.execute(cmd.registerNode('meter-1'));
      for (const tool of ['sqlite3', 'node']) {
        const target = join(backups, `${tool}.db`);
        const recipe = readmeRecipe(tool).replaceAll('<data>', svc.dir).replaceAll('/backups/events.db', target);
        // Run as a shell with the usual umask would: world-readable unless the recipe says otherwise.
        const run = spawnSync('sh', ['-c', `umask 022; ${recipe}`], { cwd: REPO, encoding: 'utf8' });
        if (tool === 'sqlite3' && run.error !== undefined) continue; // the sqlite3 command may not be installed
        expect(run.status, `${recipe}: ${run.stderr}`).toBe(0);
        expect(statSync(target).mode & 0o777, recipe).toBe(0o600);
      }
    } finally {
      await svc.close();
    }
  }, 60_000);
});
