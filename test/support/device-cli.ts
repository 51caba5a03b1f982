import { register } from '../../bin/commands/device.ts';
import type { Io } from '../../bin/io.ts';
import { runCommands } from '../../bin/program.ts';

/** `credence device …argv` in process, with an empty env: its exit code and its stdout and stderr as one text. */
export const deviceCli = async (argv: string[]): Promise<{ code: number; output: string }> => {
  const lines: string[] = [];
  const io: Io = { out: (line) => void lines.push(line), err: (line) => void lines.push(line), env: {} };
  const code = await runCommands([register], ['device', ...argv], io);
  return { code, output: lines.join('\n') };
};
