import type { CliCommand, Io } from './io.ts';

/** Commands are loaded on demand so `credence replay` does not pay for what `credence serve` needs. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<CliCommand> }> = {
  demo: { summary: 'run the scripted fleet lifecycle on the embedded store (npm start)', load: async () => (await import('./commands/demo.ts')).demo },
  replay: { summary: 'replay every entity through its machine; exit 1 on a broken history', load: async () => (await import('./commands/replay.ts')).replay },
  history: { summary: "print one entity's timeline: credence history <stream>", load: async () => (await import('./commands/history.ts')).history },
  verify: { summary: 'verify the transparency log, an evidence bundle or a proof offline', load: async () => (await import('./commands/verify.ts')).run },
  export: { summary: 'export an evidence bundle: credence export <stream> --out file.json', load: async () => (await import('./commands/export.ts')).run },
  state: { summary: 'an entity as it stood at an instant: credence state <stream> --at <ISO time>', load: async () => (await import('./commands/state.ts')).state },
  query: { summary: 'compliance queries: credence query <name> [--json] [params]', load: async () => (await import('./commands/query.ts')).query },
  projections: { summary: 'projection checkpoints and lag; credence projections rebuild <name|all>', load: async () => (await import('./commands/projections.ts')).projections },
};

const usage = (io: Io): void => {
  io.err('usage: credence <command> [options]');
  for (const [name, c] of Object.entries(COMMANDS)) io.err(`  ${name.padEnd(12)} ${c.summary}`);
};

export const main = async (argv: string[], io: Io): Promise<number> => {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    usage(io);
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS[name];
  if (entry === undefined) {
    io.err(`error: unknown command ${name}`);
    usage(io);
    return 2;
  }
  return (await entry.load())(rest, io);
};

/** Runs the CLI on this process's argv and streams; the exit code becomes the process's. */
export const runProcess = async (): Promise<void> => {
  // `credence history x | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  const io: Io = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };
  try {
    process.exitCode = await main(process.argv.slice(2), io);
  } catch (error) {
    io.err(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
};
