// CONTRACT (the CLI helper owns and may extend this file; keep these names).
import { Command, CommanderError, type Option } from 'commander';
import type { z } from 'zod';
import { ProblemResponse, ServerTimeout, ServerUnreachable, UnexpectedResponse } from '../adapters/client/http.ts';
import { damagedDatabaseOf } from '../adapters/driven/files/damaged-database.ts';
import { isNewerFileRefusal } from '../adapters/driven/files/newer-file-version.ts';
import { isSecureEnvironmentOfTheFolderRefusal } from '../adapters/runtime/keys-the-folder-names.ts';
import {
  eventStoreUnavailableOf,
  isEventStoreUnreachable,
  isTransient,
  type EventStoreDbError,
} from '../adapters/driven/store/eventstoredb/driver.ts';
import { problemDocumentOf } from '../adapters/http/problems.ts';
import { isCredenceError, type CredenceError } from '../domain/errors.ts';
import { ReadModelRulesChanged } from '../projections/runtime/index.ts';
import { json, type Io } from './io.ts';
import { printable } from './printable.ts';
import { configure, configureTree } from './command-settings.ts';
import { printProblem } from './problem.ts';
import { reportOptionLikeValuesFirst } from './option-like-values-first.ts';
import { reportUnknownOptionsFirst } from './unknown-options-first.ts';
import { LISTEN_UNKNOWN, listenRefusal, listenSettingsOf, type ListenSettings } from './listen-refusal.ts';

/** The exit codes every command keeps: scripts branch on them. */
export const EXIT = { done: 0, refused: 1, usage: 2, unreachable: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A module of commands: adds its commands (with options, `--help` text and actions) to the program. */
export type RegisterCommands = (program: Command, io: Io) => void;

/**
 * Thrown for bad usage found after commander parsed (a zod refusal of an option): exit 2. One line per message.
 * `missingVariables`: the `CREDENCE_*` variables that would have given what is missing (CREDENCE_URL for a server left
 * out): a variable set that nothing reads and is a slip of one of them is named after the lines (review 295:
 * `CREDENCE_ULR` went unsaid beside "--server: required"), as unknown-variables.ts names it.
 */
export class UsageError extends Error {
  readonly lines: readonly string[];
  readonly missingVariables: readonly string[];
  constructor(message: string | readonly string[], missingVariables: readonly string[] = []) {
    const lines = typeof message === 'string' ? [message] : message;
    super(lines.join('; '));
    this.name = 'UsageError';
    this.lines = lines;
    this.missingVariables = missingVariables;
  }
}

/**
 * adapters/http/auth/signing-key-refusals.ts's rule, named here so that no command loads the access control to read
 * it: access.db names a signing key the Secure Environment given does not hold (another token than the folder's, the
 * key destroyed there, the embedded files lost). The folder refuses a valid setting: exit 1, as `serve` answers it.
 */
const ACCESS_SIGNING_KEY_PRESENT = 'access_signing_key_present';

const isAccessSigningKeyRefusal = (error: CredenceError): boolean =>
  error.problem.code === 'validation' && error.problem.issues.some((issue) => issue.rule === ACCESS_SIGNING_KEY_PRESENT);

/**
 * Runs `run` of a command for which a configuration or data folder it cannot use is bad usage (exit 2), not a refusal:
 * each `validation` issue one UsageError line (`unnamed` for an issue without a path). A data file a newer version of
 * Credence wrote is no such mistake but a refusal (exit 1), as every other command answers it (review 198: `token
 * create` said exit 2 for a newer access.db or Secure Environment key database, `key list` 1): it passes unchanged.
 * So does a folder whose keys are in another Secure Environment than the one given (rule
 * `secure_environment_of_the_folder`), or whose API token signing key it does not hold (`access_signing_key_present`;
 * review 230: `token create` with another token said exit 2, `serve` exit 1): every other command answers them exit 1.
 */
export const usageOnValidation = async (run: () => Promise<number>, unnamed: string): Promise<number> => {
  try {
    return await run();
  } catch (error) {
    if (
      isCredenceError(error, 'validation') &&
      error.problem.code === 'validation' &&
      !isNewerFileRefusal(error) &&
      !isSecureEnvironmentOfTheFolderRefusal(error) &&
      !isAccessSigningKeyRefusal(error)
    ) {
      throw new UsageError(error.problem.issues.map((i) => `${i.path || unnamed}: ${i.message}`));
    }
    throw error;
  }
};

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
 * unreachable server 3, bad usage 2 (a server URL on a port fetch refuses too). The message goes to stderr (or as JSON to stdout with --json).
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
    if (error instanceof ServerUnreachable && error.badPort !== undefined) {
      // A URL no fetch reaches, refused before connecting: the URL given is the mistake, not a server down (review 271).
      io.err(`error: ${printable(error.message)}`);
      return EXIT.usage;
    }
    if (error instanceof ServerUnreachable) {
      io.err(`error: ${printable(error.message)}`);
      if (error instanceof ServerTimeout) io.err('  (for longer work give --timeout SECONDS or set CREDENCE_TIMEOUT)');
      return EXIT.unreachable;
    }
    if (isEventStoreUnreachable(error) || isTransient(error)) {
      // The event store of --store is a server too (review 46: it was exit 1, as a refusal), and any failure of it a
      // retry may mend is one it did not answer: a connection lost or a call cancelled mid-way as well (review 151).
      const { message, unreachable, appendOutcome } = error as EventStoreDbError;
      io.err(`error: ${printable(message)}`);
      if (eventStoreUnavailableOf(error)?.reason === 'not_leader') {
        // Not a refusal: the client turns to the leader the message names, so the same command may simply be sent again.
        io.err('  (the event store answered from a follower: send the command again, with the same --command-id if it had one)');
      } else if (eventStoreUnavailableOf(error)?.reason === 'unauthorised') {
        // A retry does not mend it: the user and password (or certificate) of the store's string, or that user's access.
        io.err("  (the event store refused the credentials of --store or CREDENCE_STORE, or their user's permissions: check the user and password (or certificate) there, and the user's access to Credence's streams and $all)");
      } else if (appendOutcome !== undefined) {
        // An append's failure, told by its field (never by the words at the end of its message, which may be cut): its
        // command id makes sending it again safe, whether or not it may have been written.
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
      if (error.missingVariables.length > 0) {
        // Loaded only then: the service's list of variables is a large import (variable-slips.ts).
        const { slipsOf } = await import('./commands/variable-slips.ts');
        for (const line of await slipsOf(io, error.missingVariables)) io.err(`error: ${printable(line)}`);
      }
      return EXIT.usage;
    }
    if (error instanceof ProblemResponse) {
      if (asJson) io.out(json(error.problem));
      else {
        printProblem(io, error.status, error.problem);
        // Said apart from the document: a proxy's page has none to say it in, and Credence's 503s say "retry later".
        if (error.retryAfterMs !== undefined && Number.isFinite(error.retryAfterMs)) io.err(`  retry after: ${Math.ceil(error.retryAfterMs / 1000)} s (Retry-After)`);
      }
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

const PROGRAM_NOTES = `
Talking to a server: --server URL (or CREDENCE_URL) and a bearer token from --token-file FILE, --token T or
CREDENCE_TOKEN (a token on the command line shows in ps and the shell history: prefer the file); each answer is
waited for at most --timeout SECONDS (or CREDENCE_TIMEOUT; default 30); a read, or a command with its command id,
the service turns away for now (503 overloaded or starting, 429) is sent again after its Retry-After, the waits within
--timeout and at most 30 s in all.
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
  reportOptionLikeValuesFirst(program, refuseOptionLikeValues);
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
    // Review 186: the help alone never said which word named no command; said as commander says `credence nosuch`.
    if (help.unknown !== undefined) io.err(`error: unknown command '${printable(help.unknown)}'`);
    help.command.outputHelp({ error: !help.found });
    return help.found ? EXIT.done : EXIT.usage;
  }
  refuseRepeatedOptions(program, given);
  givenWords.set(program, given);
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
 * shown as an error (stderr, exit 2), as commander's own `help no-such` shows the program's; first, when that command has
 * subcommands, `unknown command 'WORD'` (review 186). Undefined: no words after `help`, left to commander.
 */
const helpAsked = (
  program: Command,
  argv: readonly string[],
): { readonly command: Command; readonly found: boolean; readonly unknown?: string } | undefined => {
  const [first, ...words] = argv;
  if (first !== 'help' || words.length === 0) return undefined;
  const { command, rest } = commandReached(program, words);
  // A word after a command that has subcommands names none of them; after one that has none it is an argument.
  const unknown = rest[0] !== undefined && !looksLikeAnOption(rest[0]) && command.commands.length > 0 ? rest[0] : undefined;
  return { command, found: rest.length === 0, ...(unknown !== undefined ? { unknown } : {}) };
};

/** The command the leading words of `argv` name (`token revoke` of `token revoke tok_X --json`), and the words after. */
const commandReached = (program: Command, argv: readonly string[]): { readonly command: Command; readonly rest: readonly string[] } => {
  let command = program;
  for (const [at, word] of argv.entries()) {
    const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub === undefined) return { command, rest: argv.slice(at) };
    command = sub;
  }
  return { command, rest: [] };
};

/**
 * A value that starts with `-` was most likely an option taken for the value of one whose own value was left out:
 * commander takes the next word whatever it is. Found in review: `token create … --data --json` made a folder
 * `./--json`; review 186: `subscription terminate s --reason --json` recorded the reason "--json" for good.
 */
export const looksLikeAnOption = (value: string): boolean => value.startsWith('-');

/**
 * Values with a rule of their own for a leading `-`, in every form: a path (PathArg: written ./-name), a bearer token
 * (BearerToken: never starts with -) and a query's `<value>`, judged after parseOptions by that query's own schema,
 * which names the form it takes (query.ts); and base64url, whose alphabet holds `-`, so that such a value is an ordinary
 * one (a public key given as it was printed).
 */
const OWN_DASH_RULE = /<(?:file|dir|folder|token|value|base64url)>/;

/** The words each program was run with (runProgram), for what commander's parse does not keep: how a value was given. */
const givenWords = new WeakMap<Command, readonly string[]>();

/**
 * The options of `command` whose value was given as its own word and looks like an option (review 186), read as
 * commander reads the words: an option that takes a value takes the next word, so an option taken as the value of
 * another is judged as that one's value. `--reason=-x` is one word, and never among them. An option that takes a list
 * is judged by the first word after each time it is given (review 245: `--capability --json` recorded the capability
 * "--json"): commander takes that word whatever it is, and the words after it only until one looks like an option.
 */
const optionLikeValues = (command: Command): readonly { readonly option: Option; readonly value: string }[] => {
  const argv = givenWords.get(rootOf(command)) ?? [];
  const end = argv.indexOf('--');
  const reached = commandReached(rootOf(command), end === -1 ? argv : argv.slice(0, end));
  if (reached.command !== command) return [];
  const found: { option: Option; value: string }[] = [];
  const { rest } = reached;
  for (let at = 0; at < rest.length; at += 1) {
    const option = command.options.find((o) => o.long === rest[at] || o.short === rest[at]);
    if (option === undefined || !option.required) continue;
    at += 1;
    const value = rest[at];
    if (value !== undefined && looksLikeAnOption(value) && !OWN_DASH_RULE.test(option.flags)) found.push({ option, value });
  }
  return found;
};

/** What parseOptions and reportOptionLikeValuesFirst say of a value that looks like an option. */
const optionLikeLine = ({ option, value }: { readonly option: Option; readonly value: string }): string => {
  const flag = option.long ?? option.flags;
  const shown = value.length > 64 ? `${value.slice(0, 64)}…` : value;
  return `${flag}: ${shown} looks like an option (was the value left out?); write ${flag}=${shown} for a value that really starts with -`;
};

/**
 * Refuses the value of `command`'s option `key` (its attribute name) when it looks like an option, as parseOptions says
 * it (a UsageError, exit 2): for an option read before parseOptions runs (`--data --json` was said to be "not JSON",
 * review 331). `--data=--json` is one word, a value, and left to its reader.
 */
export const refuseOptionLikeValue = (command: Command, key: string): void => {
  const found = optionLikeValues(command).find(({ option }) => option.attributeName() === key);
  if (found !== undefined) throw new UsageError(optionLikeLine(found));
};

/**
 * Refuses `command` naming each value given it that looks like an option (as parseOptions says them; exit 2): run by
 * reportOptionLikeValuesFirst before commander's own "too many arguments".
 */
const refuseOptionLikeValues = (command: Command): void => {
  const optionLike = optionLikeValues(command);
  if (optionLike.length > 0) command.error(optionLike.map((found) => `error: ${optionLikeLine(found)}`).join('\n'), { exitCode: EXIT.usage, code: 'credence.optionLikeValue' });
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
 * `values` holds the options and the named arguments. Every option of `command` given a value as its own word that
 * looks like an option, and that no rule of its own refused, is refused too (review 186: free text took the next flag
 * for its value and recorded it, `--reason --json`): the one place all of a command's option values are judged. A value
 * that really starts with `-` is written `--reason=-x`.
 */
export const parseOptions = <S extends z.ZodType>(command: Command, schema: S, values: Record<string, unknown>): z.infer<S> => {
  const parsed = schema.safeParse(values);
  const issues = parsed.success ? [] : parsed.error.issues;
  // A value its option's own rule refuses is said in that rule's words (an id's pattern, a path's ./-name).
  const refused = new Set(issues.map((issue) => String(issue.path[0])));
  const optionLike = optionLikeValues(command)
    .filter(({ option }) => !refused.has(option.attributeName()))
    .map(optionLikeLine);
  if (parsed.success && optionLike.length === 0) return parsed.data;
  throw new UsageError([
    ...issues.map((issue) => {
      const [head, ...rest] = issue.path.map(String);
      const where = head === undefined ? command.name() : [flagOf(command, head), ...rest].join('.');
      return `${where}: ${issue.message}`;
    }),
    ...optionLike,
  ]);
};
