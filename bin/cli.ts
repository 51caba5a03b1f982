import { damagedDatabaseOf } from '../adapters/driven/files/damaged-database.ts';
import type { Io } from './io.ts';
import { printable } from './printable.ts';
import type { DeliveringIo } from './one-time-output.ts';
import { createProgram, runProgram, type RegisterCommands } from './program.ts';
import { standardOutput } from './standard-output.ts';

type Loader = () => Promise<{ register: RegisterCommands }>;

/**
 * Every command module by the top-level commands it registers, in the order `credence --help` lists them. A
 * command loads only its own module (`credence node revoke` needs none of the local store, `credence replay`
 * none of Fastify); help for the whole program loads them all.
 */
const MODULES: readonly { readonly commands: readonly string[]; readonly load: Loader }[] = [
  { commands: ['serve'], load: () => import('./commands/serve.ts') },
  { commands: ['start', 'demo'], load: () => import('./commands/demo-command.ts') },
  { commands: ['subscription', 'node', 'credential', 'application', 'association', 'pseudonym'], load: () => import('./commands/lifecycle.ts') },
  { commands: ['command'], load: () => import('./commands/command.ts') },
  { commands: ['token'], load: () => import('./commands/token.ts') },
  { commands: ['ca'], load: () => import('./commands/ca.ts') },
  { commands: ['device'], load: () => import('./commands/device.ts') },
  { commands: ['replay'], load: () => import('./commands/replay.ts') },
  { commands: ['history'], load: () => import('./commands/history.ts') },
  { commands: ['state'], load: () => import('./commands/state.ts') },
  { commands: ['query'], load: () => import('./commands/query.ts') },
  { commands: ['events'], load: () => import('./commands/events.ts') },
  { commands: ['projections'], load: () => import('./commands/projections.ts') },
  { commands: ['verify'], load: () => import('./commands/verify.ts') },
  { commands: ['export'], load: () => import('./commands/export.ts') },
  { commands: ['log-key'], load: () => import('./commands/log-key.ts') },
  { commands: ['key'], load: () => import('./commands/key.ts') },
  { commands: ['kek'], load: () => import('./commands/kek.ts') },
];

/** Every command module, for the program's own help and for tests that walk the whole command tree. */
export const loadCommandModules = async (): Promise<RegisterCommands[]> => Promise.all(MODULES.map(async (m) => (await m.load()).register));

/** The modules `argv` needs: the one of its command, or all of them (help, an unknown command, none). */
const modulesFor = async (argv: readonly string[]): Promise<RegisterCommands[]> => {
  const name = argv[0];
  const module = MODULES.find((m) => name !== undefined && m.commands.includes(name));
  return module === undefined ? loadCommandModules() : [(await module.load()).register];
};

/** The CLI: parses argv (without node and the script) and runs one command; resolves to its exit code. */
export const main = async (argv: string[], io: Io): Promise<number> => runProgram(createProgram(io, await modulesFor(argv)), argv, io);

/** Runs the CLI on this process's argv and streams; the exit code becomes the process's. */
export const runProcess = async (): Promise<void> => {
  // `credence history x | head` closes the pipe early: that is the reader's choice, not an error, and the command's own
  // code stands (review 331: a refusal printed with --json exited 0). A command that goes on writing to nobody (`events`
  // following until Ctrl-C) has no code yet and would never end: ended as the reader chose, exit 0.
  const stdout = standardOutput(process.stdout, 1, () => process.exit(process.exitCode ?? 0));
  // What goes to stderr (progress, notes, a service's startup lines) is for whoever watches: a reader that went
  // away, or a destination that fails (a full disk, a closed terminal), is no reason to stop, and there is nowhere
  // left to say so. Unhandled, its EPIPE ended in an uncaught error while the service started, which left
  // `credence serve 2>&1 | true` hung, deaf to SIGTERM; `serve 2>/dev/full` ended the service (found in review).
  // Nor does it change the exit code: `TOKEN=$(credence token create … 2>/dev/full)` got its token.
  process.stderr.on('error', () => {});
  const io: DeliveringIo = {
    out: (l) => stdout.write(`${l}\n`),
    deliver: (l) => stdout.deliver(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
    ...(process.stderr.isTTY ? { progress: process.stderr } : {}),
    stdoutIsTerminal: process.stdout.isTTY === true,
    stdoutGone: stdout.readerGone,
  };
  let code: number;
  try {
    code = await main(process.argv.slice(2), io);
    await stdout.settled();
  } catch (error) {
    code = 1;
    // A damaged database met outside any command's action still names its file and what mends it.
    const shown = damagedDatabaseOf(error) ?? error;
    if (error !== stdout.failure) io.err(`error: ${printable(shown instanceof Error ? shown.message : String(shown))}`);
  }
  // Found in review 81: a stdout the system refused (a full disk, a file size limit) was a Node stack trace. Said last,
  // in one line, whatever the command made of it; a failure the command already had keeps its own code.
  if (stdout.failure !== undefined) {
    io.err(`error: ${stdout.failure.message}`);
    if (code === 0) code = 1;
  }
  process.exitCode = code;
};
