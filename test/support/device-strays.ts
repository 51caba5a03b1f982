import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { register } from '../../bin/commands/device.ts';
import type { Io } from '../../bin/io.ts';
import { runCommands } from '../../bin/program.ts';

/** Above Linux's largest pid (2^22): never a running process, as the pid of a killed writer is not. */
const DEAD_PID = 4_194_305;
/** What every stray holds: a line that must never be printed. */
export const STRAY_CONTENTS = 'the-contents-of-a-stray-never-printed';
/** The temps a killed write leaves in a device folder: a whole KEK of its Secure Environment, its state file. */
export const STRAYS = [`.secure-environment.kek.${DEAD_PID}.0123456789ab.tmp`, `.device.json.${DEAD_PID}.a1b2c3d4e5f6.tmp`];

/** `credence device …argv` in process: its exit code, stdout and stderr apart. */
export const deviceCli = async (argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> => {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (line) => void out.push(line), err: (line) => void err.push(line), env: {} };
  const code = await runCommands([register], ['device', ...argv], io);
  return { code, out, err };
};

/** An hour-old temp of a killed write for each of STRAYS in `dir`: what the lock's sweep removes. */
export const leaveStrays = (dir: string): void => {
  const anHourAgo = Date.now() / 1000 - 3600;
  for (const name of STRAYS) {
    writeFileSync(join(dir, name), `${STRAY_CONTENTS}\n`, { mode: 0o600 });
    utimesSync(join(dir, name), anHourAgo, anHourAgo);
  }
};
