import { DecimalNumber } from '../../domain/whole-number.ts';
import type { Stats } from 'node:fs';
import type { Command } from 'commander';
import { openToGroupOrOthers, writableByGroupOrOthers } from '../../adapters/driven/files/index.ts';
import { z } from 'zod';
import { DEFAULT_TIMEOUT_MS } from '../../adapters/client/http.ts';
import { operatorClient, type OperatorClient } from '../../adapters/client/operator.ts';
import { FILE_LIMITS } from '../files.ts';
import { PIPE_WAIT_MS, readSecretOptionFile } from './secret-option-file.ts';
import { looksLikeAnOption, UsageError } from '../program.ts';
import { parseStreamId } from '../../domain/streams.ts';
import { entityIdRefusal } from '../../domain/entity-ids.ts';
import { isLowerCaseCommandId } from '../../domain/ids.ts';
import { isDerivedCommandId } from '../../domain/event-ids.ts';
import { printableRule } from '../../domain/commands/printable-text.ts';
import { storeCarriesPassword, storePasswordOnCommandLine } from '../../adapters/http/store-password.ts';
import type { Io } from '../io.ts';

/**
 * Options several commands share, with the one rule for where a read command reads: `--server` (or
 * CREDENCE_URL when neither --data nor --store is given) reads through the HTTP API; otherwise the local data
 * folder (`--data`, else CREDENCE_DATA, else ./data: open-store.ts localDataFolder) or the store of `--store`.
 */

export const withJson = (command: Command): Command => command.option('--json', 'print the result as JSON (no progress bar)');

export const withLocalStore = (command: Command, dataDefault = './data'): Command =>
  command
    .option('--data <dir>', `the local data folder (env CREDENCE_DATA; default: ${dataDefault})`)
    .option(
      '--store <connection>',
      'read the events from this store instead: sqlite:<folder>, esdb://… or kurrentdb://…; a user:password@ here shows in ps and shell history, prefer --server with --token-file',
    )
    // Said, not refused, like --token (review 47 item 3); through the program's stderr, never echoing the string.
    .hook('preAction', (self) => {
      if (!storeCarriesPassword(self.opts()['store'])) return;
      self.configureOutput().writeErr?.(`warning: ${storePasswordOnCommandLine('read through the service instead (--server URL --token-file FILE), which keeps the password in its own configuration')}\n`);
    });

export const withServer = (command: Command): Command =>
  command
    .option('--server <url>', 'a Credence server, e.g. http://127.0.0.1:8080 (env: CREDENCE_URL)')
    .option('--token <token>', 'bearer token for --server (env: CREDENCE_TOKEN); shows in ps and shell history, prefer --token-file')
    .option('--token-file <file>', 'read the bearer token from this file (surrounding whitespace trimmed) instead of --token')
    .option('--timeout <seconds>', `how long to wait for each answer of the server (env: CREDENCE_TIMEOUT; default ${DEFAULT_TIMEOUT_MS / 1000})`);

/**
 * http(s) only, bounded: the URL ends up in messages and requests. Without a user name or password: found in review,
 * fetch refuses such a URL and the whole of it, password included, was printed in "cannot reach ..." (exit 3). The
 * server is reached with a bearer token, never with credentials in the URL; the messages never echo the value.
 */
export const ServerUrl = z
  .string()
  .max(2048)
  .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), 'must be an http:// or https:// URL')
  .refine(
    (s) => !URL.canParse(s) || (new URL(s).username === '' && new URL(s).password === ''),
    'must not carry a user name or password: give the server its URL alone, and the token with --token-file',
  )
  // A path is kept as the prefix of every request (a service behind a reverse proxy); a query or fragment would be lost.
  .refine((s) => !URL.canParse(s) || (new URL(s).search === '' && new URL(s).hash === ''), 'must not carry a query or fragment');
/**
 * A file or folder named on the command line (SER-001: every argument bounded; PATH_MAX on Linux is 4096). One that
 * looks like an option is refused in every form, `--data=--json` too (found in review: `token create … --data --json`
 * made a folder `./--json` and printed an admin token as plain text): a path meant so is written `./-name`.
 */
export const PathArg = z
  .string()
  .min(1)
  .max(4096)
  .superRefine((value, context) => {
    if (!looksLikeAnOption(value)) return;
    const shown = value.length > 64 ? `${value.slice(0, 64)}…` : value;
    context.addIssue({ code: 'custom', params: { rule: 'looks_like_an_option' }, message: `${shown} looks like an option (was the value left out?); write ./${shown} to mean a path` });
  });

/** Never repeated in a message: it is a credential (found in review: `--token --json` sent `--json` as the bearer token). */
export const BearerToken = z
  .string()
  .min(1)
  .max(8192)
  .regex(/^[\x21-\x7e]+$/, 'must be one token, printable ASCII without spaces')
  .refine((value) => !looksLikeAnOption(value), 'looks like an option (was the token left out?): a token never starts with -');

/**
 * `--command-id`: a UUID in lower case, the form a new command's id must take (domain/commands/new-command-id.ts, rule
 * lower_case), and not of version 8, the engine's own (rule reserved_command_id). Refused here naming the option, before anything is sent (review 218: the server's `body.commandId`,
 * exit 1). A command recorded under an upper-case id before that rule is retried through the API, which still answers it:
 * the refusal says so, and gives the lower-case id for a new command only, since the same UUID in lower case is another
 * command, which a retry would do a second time (review 245). The CLI keeps refusing rather than sending such an id: it
 * cannot tell a retry from a new command typed in upper case (uuidgen's output on macOS), the common case by far.
 */
const Uuid = z.uuid();

export const NewCommandIdArg = z
  .uuid('must be a UUID')
  .superRefine((id, ctx) => {
    // Zod runs this check after the UUID's failed too: a value that is no UUID is said so once, never advised in lower
    // case, which is no UUID either (review 271: `--command-id ABC` was told "give abc").
    if (!Uuid.safeParse(id).success) return;
    if (isDerivedCommandId(id)) {
      // Review 222: the service refuses these too (adapters/engine/admission.ts), once sent. Said first, in any case: an
      // upper-case version 8 id advised in lower case would be refused in turn.
      ctx.addIssue({
        code: 'custom',
        params: { rule: 'reserved_command_id' },
        message: `${id} is a version 8 UUID (rule reserved_command_id), the form of the ids the engine derives for its own reactions: give a version 4 or 7 UUID, e.g. from uuidgen`,
      });
    } else if (!isLowerCaseCommandId(id)) {
      ctx.addIssue({
        code: 'custom',
        params: { rule: 'lower_case' },
        message:
          `${id} is not in lower case (rule lower_case), the form RFC 9562 writes a UUID in: ids are compared as sent, so the same UUID in another case is another command; ` +
          `for a new command, give ${id.toLowerCase()}, never to retry a command sent under ${id}, which would do it a second time: ` +
          `to retry a command an earlier version recorded under it, send it under ${id} as recorded to POST /v1/commands (docs/service.md, Commands), which answers its first outcome`,
      });
    }
  });

/** Seconds to wait for an answer: a positive number, at most a day. */
const TimeoutSeconds = DecimalNumber(86_400);

export interface ServerTarget {
  readonly url: string;
  readonly token: string;
  /** From --timeout or CREDENCE_TIMEOUT; the client's default when absent. */
  readonly timeoutMs?: number;
}

/** What withServer adds, as commander passes it. */
export interface ServerOptionValues {
  readonly server?: string | undefined;
  readonly token?: string | undefined;
  readonly tokenFile?: string | undefined;
  readonly timeout?: string | undefined;
}

const envOf = (io: Io): Readonly<Record<string, string | undefined>> => io.env ?? process.env;

/**
 * A token file whoever may write could swap for a token of theirs at any time, so that this command would act as that
 * token's holder: refused before it is read, unlike a mode others may only read (tokenOf). Another account's (the data
 * folder's owner rule, review 47 item 1, as ssh's StrictModes: root is no exception), and one group or others may
 * write (review 245, as a `--key` file others may write is refused: trusted-file.ts), judged on the descriptor read.
 */
const tokenFileRule = (named: string, file: string, stat: Stats, self: number): string | undefined => {
  if (stat.uid !== self) {
    return `${named} is owned by uid ${stat.uid}, not by uid ${self} that Credence runs as: that account could read the token or replace it with one of its own, and this command would act as its holder; write the token to a file of this account's (chmod 600), or make this one its with chown ${self} ${file}; if you do not know how it came there, do not use it`;
  }
  if (writableByGroupOrOthers(stat.mode)) {
    return `${named} is writable by group or others (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}): they could replace the token with one of theirs, and this command would act as its holder; chmod 600 ${file}`;
  }
  return undefined;
};

/**
 * The bearer token: --token, else the file of --token-file, else CREDENCE_TOKEN; a message when unusable. The file is
 * read as a `--key` file is (secret-option-file.ts: its folders checked, read through the descriptor judged, bounded,
 * trimmed); a pipe of it is waited for at most `pipeWaitMs`.
 */
const tokenOf = (opts: ServerOptionValues, io: Io, pipeWaitMs: number): { token: string } | { problem: string; missing?: true } => {
  if (opts.token !== undefined && opts.tokenFile !== undefined) return { problem: '--token-file: give --token or --token-file, not both' };
  let flag = '--token';
  let token = opts.token;
  if (opts.tokenFile !== undefined) {
    flag = '--token-file';
    const read = readSecretOptionFile('--token-file', opts.tokenFile, 'token', { maxBytes: FILE_LIMITS.token, waitMs: pipeWaitMs, fileRule: tokenFileRule });
    if (!read.ok) return { problem: read.message };
    token = read.text.trim();
    if (token === '') return { problem: `--token-file: ${opts.tokenFile} holds no token` };
    // Said, not refused: `credence token create > FILE` under the usual umask makes such a file, and refusing it would
    // break that; a bearer token others on the machine can read is theirs to use, though. Never said on Windows, whose
    // modes do not tell.
    if (process.platform !== 'win32' && openToGroupOrOthers(read.stat.mode)) io.err(`warning: --token-file: ${opts.tokenFile} is readable by group or others; chmod 600 it`);
  } else if (token === undefined || token === '') {
    flag = 'CREDENCE_TOKEN';
    token = envOf(io)['CREDENCE_TOKEN'];
  }
  if (token === undefined || token === '') return { problem: '--token: required with --server (or --token-file FILE, or set CREDENCE_TOKEN)', missing: true };
  const parsed = BearerToken.safeParse(token);
  return parsed.success ? { token } : { problem: `${flag}: ${parsed.error.issues[0]?.message ?? 'must be one token, printable ASCII without spaces'}` };
};

/**
 * An http:// server URL whose host is not this machine's loopback: the token would cross the network in clear text
 * (review 301: nothing said so, where a --token in the process list is warned of). Said, not refused: a closed
 * network's plain HTTP is the operator's choice, which the warning leaves them.
 */
const crossesTheNetworkInClear = (url: string): boolean => {
  const { protocol, hostname } = new URL(url);
  return protocol === 'http:' && !(hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname));
};

/** The server and token of a command that only talks to a server; a missing or bad one is bad usage (exit 2). */
export const serverTarget = (opts: ServerOptionValues, io: Io): ServerTarget => {
  const env = envOf(io);
  const url = opts.server ?? env['CREDENCE_URL'];
  const urlFrom = opts.server !== undefined ? '--server' : 'CREDENCE_URL';
  const lines: string[] = [];
  // What would have given a server or token left out: a misspelling of it in the environment is named (runAction).
  const missing: string[] = [];
  if (url === undefined || url === '') {
    lines.push('--server: required (or set CREDENCE_URL)');
    missing.push('CREDENCE_URL');
  }
  else {
    const parsed = ServerUrl.safeParse(url);
    if (!parsed.success) lines.push(`${urlFrom}: ${parsed.error.issues[0]?.message ?? 'must be an http:// or https:// URL'}`);
    else if (crossesTheNetworkInClear(parsed.data)) {
      io.err(`warning: ${urlFrom}: an http:// URL of another host than this one: the bearer token and every command go over the network unencrypted; reach the service through https:// (a TLS-terminating proxy, docs/service.md)`);
    }
  }
  const timeoutFrom = opts.timeout !== undefined ? '--timeout' : 'CREDENCE_TIMEOUT';
  const timeoutText = opts.timeout ?? env['CREDENCE_TIMEOUT'];
  const timeout = timeoutText === undefined || timeoutText === '' ? undefined : TimeoutSeconds.safeParse(timeoutText);
  // A pipe as --token-file is waited for as long as an answer of the server would be, when that is given (review 295).
  const token = tokenOf(opts, io, timeout?.success === true ? Math.ceil(timeout.data * 1000) : PIPE_WAIT_MS);
  if ('problem' in token) lines.push(token.problem);
  if ('missing' in token) missing.push('CREDENCE_TOKEN');
  if (timeout?.success === false) lines.push(`${timeoutFrom}: must be a number of seconds, more than 0 and at most 86400`);
  if (lines.length > 0 || 'problem' in token) throw new UsageError(lines, missing);
  return { url: url!, token: token.token, ...(timeout?.success === true ? { timeoutMs: Math.ceil(timeout.data * 1000) } : {}) };
};

/** The operator client of a server target, with its timeout. */
export const clientOf = (target: ServerTarget): OperatorClient =>
  operatorClient(target.url, target.token, target.timeoutMs !== undefined ? { timeoutMs: target.timeoutMs } : {});

/**
 * Where a read command reads: the server when `--server` is given, or CREDENCE_URL is set and neither --data
 * nor --store is; the local store otherwise.
 */
export const readTarget = (opts: ServerOptionValues & { data?: unknown; store?: unknown }, io: Io): ServerTarget | undefined => {
  const local = opts.data !== undefined || opts.store !== undefined;
  if (opts.server !== undefined && local) throw new UsageError('--server: reads from a server or from --data/--store, not both');
  // Review 465: a token with --data/--store was taken and ignored (with CREDENCE_URL set too, where --data wins). The
  // flag is named, never its value. CREDENCE_TOKEN is left alone: README has it exported for a shell's server commands.
  const tokenFlag = opts.token !== undefined ? '--token' : opts.tokenFile !== undefined ? '--token-file' : undefined;
  if (local && tokenFlag !== undefined) throw new UsageError(`${tokenFlag}: a token is for a server (--server or CREDENCE_URL); --data/--store read locally and take none: leave ${tokenFlag} out`);
  if (opts.server === undefined && (local || (envOf(io)['CREDENCE_URL'] ?? '') === '')) return undefined;
  return serverTarget(opts, io);
};

/** Long work draws a bar on a terminal only, never with --json. */
export const progressStream = (io: Io, asJson: boolean | undefined): NodeJS.WriteStream | undefined =>
  asJson === true ? undefined : io.progress;

/** The zod side of withServer: checked in full by readTarget / serverTarget, which also read the environment. */
export const ServerOptions = {
  server: z.string().optional(),
  token: z.string().optional(),
  tokenFile: PathArg.optional(),
  timeout: z.string().max(32).optional(),
};

/** A control or other invisible character in a `<stream>` is named by its code point, as in a command's free text. */
const VisibleStream = z.string().superRefine(
  printableRule({ rewrite: 'write the stream as <kind>-<id>, as history or a listing shows it', empty: 'write the stream as <kind>-<id>' }),
);

/** `<stream>`: an entity stream `<kind>-<id>`, parsed into its kind and id (the API's path segments), the id by its kind's rule. */
export const StreamArg = z
  .string()
  .max(300)
  .transform((s, ctx) => {
    const visible = VisibleStream.safeParse(s);
    if (!visible.success) {
      ctx.addIssue({ code: 'custom', message: visible.error.issues[0]!.message });
      return z.NEVER;
    }
    const ref = parseStreamId(s);
    if (ref === undefined) {
      ctx.addIssue({ code: 'custom', message: 'stream must be <kind>-<id> with kind node, credential, association, application, subscription or pseudonym' });
      return z.NEVER;
    }
    // By its kind's id rule (domain/entity-ids.ts) before anything is read: found in review 218, `node-..` went to the
    // server as GET /v1/replay/node/.., which a URL resolves to another route, and `node-a/b` came back as `params.id`.
    const refusal = entityIdRefusal(ref.kind, ref.id);
    if (refusal !== undefined) {
      ctx.addIssue({ code: 'custom', message: refusal });
      return z.NEVER;
    }
    return ref;
  });
