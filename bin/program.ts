// CONTRACT (the CLI helper owns and may extend this file; keep these names).
import { readFileSync, statSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import type { z } from 'zod';
import { ProblemResponse, ServerTimeout, ServerUnreachable, UnexpectedResponse } from '../adapters/client/http.ts';
import { damagedDatabaseOf } from '../adapters/driven/files/damaged-database.ts';
import {
  eventStoreUnavailableOf,
  isEventStoreUnreachable,
  isTransient,
  MAY_BE_WRITTEN,
  type EventStoreDbError,
} from '../adapters/driven/store/eventstoredb/driver.ts';
import { problemDocumentOf } from '../adapters/http/problems.ts';
import { isCredenceError, type CredenceError } from '../domain/errors.ts';
import { ReadModelRulesChanged } from '../projections/runtime/index.ts';
import { json, type Io } from './io.ts';
import { printable } from './printable.ts';
import { printProblem } from './problem.ts';
import { reportUnknownOptionsFirst } from './unknown-options-first.ts';

/** The exit codes every command keeps: scripts branch on them. */
export const EXIT = { done: 0, refused: 1, usage: 2, unreachable: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A module of commands: adds its commands (with options, `--help` text and actions) to the program. */
export type RegisterCommands = (program: Command, io: Io) => void;

/** Thrown for bad usage found after commander parsed (a zod refusal of an option): exit 2. One line per message. */
export class UsageError extends Error {
  readonly lines: readonly string[];
  constructor(message: string | readonly string[]) {
    const lines = typeof message === 'string' ? [message] : message;
    super(lines.join('; '));
    this.name = 'UsageError';
    this.lines = lines;
  }
}

/**
 * The exit code of the action that ran, kept per program (not in process.exitCode): tests run many programs in
 * one process, and `main` returns the code instead of exiting.
 */
const exitCodes = new WeakMap<Command, number>();

const rootOf = (command: Command): Command => {
  let c = command;
  while (c.parent !== null) c = c.parent;
  return c;
};

/**
 * Wraps an action: its result is the exit code; a refusal from a server (problem+json) or the engine is 1, an
 * unreachable server 3, bad usage 2. The message goes to stderr (or as JSON to stdout with --json).
 */
export const handler =
  <A extends unknown[]>(io: Io, action: (...args: A) => Promise<number>) =>
  async (...args: A): Promise<void> => {
    // Commander passes the command itself last: its root keeps the code, its options say whether --json was asked.
    const command = args.at(-1);
    const asJson = command instanceof Command && command.optsWithGlobals()['json'] === true;
    const listen = command instanceof Command ? () => listenSettingsOf(command, io.env ?? process.env) : undefined;
    const code = await runAction(io, () => action(...args), asJson, listen);
    if (command instanceof Command) exitCodes.set(rootOf(command), code);
    else process.exitCode = code;
  };

/** Where --host, --port or --probe-port came from, as a refusal names it, what changes it, and the value it gave. */
interface ListenSetting {
  readonly source: string;
  readonly change: string;
  /** As given (a flag's or variable's text, the file's number); undefined when not set or not known. */
  readonly given?: unknown;
}
type ListenSettings = Readonly<Record<'host' | 'port' | 'probePort', ListenSetting>>;

/** Said when the command's settings are not known (runAction called on its own). */
const LISTEN_UNKNOWN: ListenSettings = {
  host: { source: '--host', change: '--host or CREDENCE_HOST' },
  port: { source: '--port', change: '--port or PORT' },
  probePort: { source: '--probe-port', change: '--probe-port or CREDENCE_PROBE_PORT' },
};

/** What the JSON file of `--config` sets `field` to (its settings were read and accepted before the service started). */
const fileValue = (file: string, field: string): unknown => {
  try {
    // A FIFO or process substitution was read once already: not opened again (it could wait for a writer for ever).
    if (!statSync(file).isFile()) return undefined;
    const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[field] : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Where `command`'s --host, --port and --probe-port came from, ranked as loadServiceConfig ranks them (the flag,
 * CREDENCE_PORT over PORT, the --config file), and what changes each (review 173: advice to set PORT changed nothing
 * under CREDENCE_PORT). The flag keeps its plain name, the others are named as every other refused setting is
 * (`env CREDENCE_PORT`).
 */
const listenSettingsOf = (command: Command, env: NodeJS.ProcessEnv): ListenSettings => {
  const opts = command.opts();
  const file = typeof opts['config'] === 'string' ? opts['config'] : undefined;
  const setting = (field: keyof ListenSettings, flag: string, envNames: readonly string[]): ListenSetting => {
    if (opts[field] !== undefined) return { source: flag, change: flag, given: opts[field] };
    const at = envNames.findIndex((name) => (env[name] ?? '') !== '');
    if (at !== -1) {
      const name = envNames[at]!;
      const over = envNames.slice(at + 1);
      return { source: `env ${name}`, change: `${name}${over.length > 0 ? ` (it wins over ${over.join(', ')})` : ''} or ${flag}`, given: env[name] };
    }
    const inFile = file === undefined ? undefined : fileValue(file, field);
    if (inFile !== undefined) return { source: `file ${file}: ${field}`, change: `the file's ${field}, or ${flag}`, given: inFile };
    return { source: flag, change: `${flag} or ${envNames.join(' or ')}` };
  };
  return {
    host: setting('host', '--host', ['CREDENCE_HOST']),
    port: setting('port', '--port', ['CREDENCE_PORT', 'PORT']),
    probePort: setting('probePort', '--probe-port', ['CREDENCE_PROBE_PORT']),
  };
};

/**
 * The setting of the port the system refused: the probe port when it is the one refused (review 177: a busy probe
 * port was said as `--port`'s). Told apart by number: the configuration refuses a probe port equal to the API port,
 * and port 0 (any free one) is never the busy one.
 */
const refusedPort = (settings: ListenSettings, port: number | undefined): ListenSetting => {
  const { given } = settings.probePort;
  const probePort = typeof given === 'string' && given.trim() !== '' ? Number(given) : given;
  return port !== undefined && port !== 0 && probePort === port ? settings.probePort : settings.port;
};

/**
 * A listening socket the system refused (`credence serve`, `start`, `demo`): the host or port set is unusable here,
 * which is bad usage (2), said plainly rather than as the socket's error code, naming where it came from.
 */
const listenRefusal = (error: unknown, settings: ListenSettings): string | undefined => {
  if (!(error instanceof Error)) return undefined;
  const e = error as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  const { host } = settings;
  const port = refusedPort(settings, e.port);
  if (e.syscall === 'getaddrinfo') {
    return `${host.source}: ${e.hostname ?? 'the host'} does not resolve to an address of this machine (${e.code ?? 'unresolved'}): choose another with ${host.change}`;
  }
  if (e.syscall !== 'listen') return undefined;
  const where = e.port !== undefined ? `${e.address ?? ''}:${e.port}` : (e.address ?? 'that address');
  switch (e.code) {
    case 'EADDRINUSE':
      return `${port.source}: port ${e.port ?? '?'} on ${e.address ?? 'this host'} is already in use (another server?): stop what holds it, or choose another port with ${port.change} (0 for any free one)`;
    case 'EACCES':
      return `${port.source}: not permitted to listen on ${where} (ports below 1024 need privileges): choose another port with ${port.change}`;
    case 'EADDRNOTAVAIL':
      return `${host.source}: ${e.address ?? 'the address'} is not an address of this machine: choose another with ${host.change}`;
    default:
      return `${host.source} / ${port.source}: cannot listen on ${where}: ${e.message}`;
  }
};

export const runAction = async (
  io: Io,
  action: () => Promise<number>,
  asJson = false,
  listenSettings: () => ListenSettings = () => LISTEN_UNKNOWN,
): Promise<number> => {
  try {
    return await action();
  } catch (error) {
    // What a server sent (a refusal, a field's path in an UnexpectedResponse) reaches the terminal through printable
    // only.
    if (error instanceof ServerUnreachable) {
      io.err(`error: ${printable(error.message)}`);
      if (error instanceof ServerTimeout) io.err('  (for longer work give --timeout SECONDS or set CREDENCE_TIMEOUT)');
      return EXIT.unreachable;
    }
    if (isEventStoreUnreachable(error) || isTransient(error)) {
      // The event store of --store is a server too (review 46: it was exit 1, as a refusal), and any failure of it a
      // retry may mend is one it did not answer: a connection lost or a call cancelled mid-way as well (review 151).
      const { message, unreachable } = error as EventStoreDbError;
      io.err(`error: ${printable(message)}`);
      if (eventStoreUnavailableOf(error)?.reason === 'not_leader') {
        // Not a refusal: the client turns to the leader the message names, so the same command may simply be sent again.
        io.err('  (the event store answered from a follower: send the command again, with the same --command-id if it had one)');
      } else if (message.endsWith(MAY_BE_WRITTEN)) {
        io.err(
          unreachable
            ? '  (is the event store of --store or CREDENCE_STORE running, and reachable from here? Then send the command again, with the same --command-id if it had one)'
            : '  (the event store stopped answering mid-way: send the command again, with the same --command-id if it had one)',
        );
      } else {
        io.err(unreachable ? '  (is the event store of --store or CREDENCE_STORE running, and reachable from here?)' : '  (the event store stopped answering mid-way: run the command again)');
      }
      return EXIT.unreachable;
    }
    const listen = listenRefusal(error, listenSettings());
    if (listen !== undefined) {
      // It names what was typed (--host, CREDENCE_HOST) and the system's message: never written raw.
      io.err(`error: ${printable(listen)}`);
      return EXIT.usage;
    }
    if (error instanceof UsageError) {
      for (const line of error.lines) io.err(`error: ${printable(line)}`);
      return EXIT.usage;
    }
    if (error instanceof ProblemResponse) {
      if (asJson) io.out(json(error.problem));
      else printProblem(io, error.status, error.problem);
      return EXIT.refused;
    }
    if (error instanceof UnexpectedResponse) {
      io.err(`error: ${printable(error.message)}`);
      return EXIT.refused;
    }
    if (error instanceof ReadModelRulesChanged) {
      printRulesChanged(io, error, asJson);
      return EXIT.refused;
    }
    // SQLite's corruption met after its file opened names no file: it is located here, where no statement pays for it.
    const refusal = damagedDatabaseOf(error) ?? error;
    if (isCredenceError(refusal)) {
      // The document a server would answer, so a script reads one shape, local or --server.
      if (asJson) io.out(json(localProblemDocument(refusal)));
      else io.err(`refused (${refusal.code}): ${printable(refusal.message)}`);
      return EXIT.refused;
    }
    throw error;
  }
};

/**
 * A refusal on this machine as the API would answer it; a damaged database of the folder is named with its path and
 * what mends it, which a server keeps for its own log.
 */
const localProblemDocument = (error: CredenceError) => {
  const document = problemDocumentOf(error);
  const { problem } = error;
  return problem.code === 'damaged_database' ? { ...document, detail: error.message, path: problem.path, remedy: problem.remedy } : document;
};

/**
 * A read model of the data folder built under other rules than this command was given (the audit trail under another
 * request-signing policy): refused, nothing written. Said with what to do: the same --signing as the service.
 */
const printRulesChanged = (io: Io, error: ReadModelRulesChanged, asJson: boolean): void => {
  const { name, recorded, given } = error.change;
  if (asJson) {
    io.out(json({ code: error.code, message: error.message, projection: name, recorded: recorded?.description ?? null, given: given.description }));
    return;
  }
  io.err(`refused (${error.code}): ${printable(error.message)}`);
  if (name === 'audit') {
    io.err(
      '  give --signing the policy file the service of this folder runs with; to judge signatures by another policy, ' +
        'start the service with it (it rebuilds the audit trail) or stop the service and run credence projections rebuild audit --signing FILE',
    );
  }
};

/**
 * Commander says a mandatory option was left out without what it accepts: `--kind` of `device init` or `--reason` of
 * a revocation has a fixed set of values, which the operator would otherwise look up in --help. Found by commander's
 * wording among this command's own options (the error is raised by the command that holds the option).
 */
const withChoices = (command: Command, text: string): string => {
  for (const option of command.options) {
    if (!option.mandatory || option.argChoices === undefined) continue;
    const missing = `required option '${option.flags}' not specified`;
    if (text.includes(missing)) return text.replace(missing, `${missing} (one of: ${option.argChoices.join(', ')})`);
  }
  return text;
};

/** Settings every command and subcommand shares: errors thrown (not process.exit), output through `io`. */
const configure = (command: Command, io: Io): Command =>
  command
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text.replace(/\n$/, '')),
      // Commander's errors quote what was typed (an unknown command or option, a bad choice): each line through
      // printable, so an argument holding ESC or OSC sequences cannot write to the operator's terminal.
      writeErr: (text) => io.err(text.replace(/\n$/, '').split('\n').map(printable).join('\n')),
      outputError: (text, write) => write(withChoices(command, text)),
    })
    .showHelpAfterError('(add --help for usage)');

const configureTree = (command: Command, io: Io): void => {
  configure(command, io);
  for (const sub of command.commands) configureTree(sub, io);
};

const PROGRAM_NOTES = `
Talking to a server: --server URL (or CREDENCE_URL) and a bearer token from --token-file FILE, --token T or
CREDENCE_TOKEN (a token on the command line shows in ps and the shell history: prefer the file); each answer is
waited for at most --timeout SECONDS (or CREDENCE_TIMEOUT; default 30).
Exit codes: 0 done, 1 refused or failed, 2 bad usage, 3 server unreachable or not answering.`;

/** The `credence` program with the given command modules registered. */
export const createProgram = (io: Io, modules: readonly RegisterCommands[]): Command => {
  const program = configure(new Command('credence'), io)
    .description('Credence: the credential lifecycle engine, its service and its operator command line')
    .helpCommand('help [command...]', 'show help for a command or a subcommand (help token create)')
    .addHelpText('after', PROGRAM_NOTES);
  for (const register of modules) register(program, io);
  // Subcommands made with `.command()` inherit the settings; any added with `.addCommand()` get them here.
  configureTree(program, io);
  reportUnknownOptionsFirst(program);
  return program;
};

/**
 * Parses `argv` (without node and script) and runs the action it names; resolves to the exit code. Help asked
 * for is 0 (on stdout); anything commander refuses (unknown option or command, missing argument) is 2.
 */
export const runProgram = async (program: Command, given: readonly string[], io: Io): Promise<number> => {
  const help = helpAsked(program, given);
  if (help !== undefined) {
    help.command.outputHelp({ error: !help.found });
    return help.found ? EXIT.done : EXIT.usage;
  }
  refuseRepeatedOptions(program, given);
  try {
    await program.parseAsync([...given], { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    const asked = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || (error.code === 'commander.help' && error.exitCode === 0);
    return asked ? EXIT.done : EXIT.usage;
  }
  return exitCodes.get(program) ?? EXIT.done;
};

/**
 * `credence help token create` as `credence token create --help`: commander's help command reads its first word only,
 * and showed `token`'s help (review 173; README promises `credence help <command>`). `help` runs nothing (review 177:
 * `help token revoke tok_X` revoked tok_X, its words having been given to commander as a command): the words are walked
 * as subcommands, and at the first that names none (an argument, an option, a typo) the help of the command reached is
 * shown as an error (stderr, exit 2), as commander's own `help no-such` shows the program's. Undefined: no words after
 * `help`, left to commander.
 */
const helpAsked = (program: Command, argv: readonly string[]): { readonly command: Command; readonly found: boolean } | undefined => {
  const [first, ...words] = argv;
  if (first !== 'help' || words.length === 0) return undefined;
  let command = program;
  for (const word of words) {
    const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub === undefined) return { command, found: false };
    command = sub;
  }
  return { command, found: true };
};

/**
 * An option that takes one value, given twice, is bad usage: commander keeps the last and drops the other without a
 * word (`node register n1 --class c --class d` recorded class d; found in review). Options that take lists, and
 * those after `--`, may repeat.
 */
const refuseRepeatedOptions = (program: Command, argv: readonly string[]): void => {
  const end = argv.indexOf('--');
  const given = end === -1 ? argv : argv.slice(0, end);
  program.hook('preAction', (_program, action) => {
    for (const option of action.options) {
      // A switch given twice says the same thing twice; one that takes a value could say two.
      if (option.variadic || !(option.required || option.optional)) continue;
      const names = [option.long, option.short].filter((n): n is string => n !== undefined);
      const times = given.filter((a) => names.some((n) => a === n || a.startsWith(`${n}=`))).length;
      if (times > 1) action.error(`error: ${option.long ?? option.short}: given ${times} times; give it once`, { exitCode: EXIT.usage, code: 'credence.repeatedOption' });
    }
  });
};

/** Runs one or a few command modules on their own, e.g. `runCommands([register], ['history', stream], io)`. */
export const runCommands = (modules: readonly RegisterCommands[], argv: readonly string[], io: Io): Promise<number> =>
  runProgram(createProgram(io, modules), argv, io);

/** `--not-before` for the option whose value is `notBefore`: messages name options the way they are typed. */
export const flagOf = (command: Command, key: string): string => {
  const option = command.options.find((o) => o.attributeName() === key);
  if (option?.long !== undefined) return option.long;
  const argument = command.registeredArguments.find((a) => a.name() === key);
  return argument !== undefined ? `<${argument.name()}>` : key;
};

/**
 * Validates what commander parsed with zod; a refusal is a UsageError naming every bad option (exit 2).
 * `values` holds the options and the named arguments.
 */
export const parseOptions = <S extends z.ZodType>(command: Command, schema: S, values: Record<string, unknown>): z.infer<S> => {
  const parsed = schema.safeParse(values);
  if (parsed.success) return parsed.data;
  throw new UsageError(
    parsed.error.issues.map((issue) => {
      const [head, ...rest] = issue.path.map(String);
      const where = head === undefined ? command.name() : [flagOf(command, head), ...rest].join('.');
      return `${where}: ${issue.message}`;
    }),
  );
};
