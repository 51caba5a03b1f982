import { WholeNumber } from '../../domain/whole-number.ts';
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { z } from 'zod';
import { ProblemResponse, ServerUnreachable } from '../../adapters/client/http.ts';
import { isServiceProblem } from '../../adapters/client/service-problem.ts';
import type { CommandOutcomeJson } from '../../adapters/client/operator.ts';
import { CommandMetadata, SenderCorrelationId } from '../../domain/commands/index.ts';
import { tryFromBase64url } from '../../domain/crypto/index.ts';
import type { Role } from '../../domain/metadata.ts';
import { MAX_REQUEST_LIFETIME_SECONDS, signCommand } from '../../domain/signing/index.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { CannotWrite } from '../write-failure.ts';
import { EXIT, parseOptions, UsageError } from '../program.ts';
import { clientOf, NewCommandIdArg, ServerOptions, serverTarget, withJson, withServer, PathArg, type ServerTarget } from './options.ts';
import { forgetSignKey, readSignKey } from './sign-key.ts';

/**
 * Sending one lifecycle command to a server (POST /v1/commands), shared by `credence <group> <verb>` and
 * `credence command <type>`: the envelope options, the optional request signature (SER-016), the outcome.
 */

export const withCommandOptions = (command: Command): Command =>
  withSigningOptions(
    withJson(withServer(command))
      .option(
        '--command-id <uuid>',
        // Said of --not-before only where the command has it (review 331: `credence command`, which has none, said it too).
        `idempotency key: the same id again returns the first outcome and appends nothing (default: a new UUID); a retry must send the same values${
          command.options.some((o) => o.long === '--not-before') ? ', so --not-before, defaulted to now, is then required' : ''
        }`,
      )
      .option('--correlation-id <id>', 'correlation id to record')
      .option('--causation-id <id>', 'causation id to record'),
  );

/** The request-signing options (SER-016), also taken by the `credence device` commands that send operator commands. */
export const withSigningOptions = (command: Command): Command =>
  command
    .option('--sign-key <file>', 'sign the request with this key file (JSON {"algorithm":"ed25519"|"p256-ecdsa-sha256","secretKey":"<base64url>"}, mode 0600)')
    .option('--audience <name>', "with --sign-key: the deployment as its signing policy names it, e.g. credence:city-utilities")
    .option('--actor <id>', 'with --sign-key: the actor id the server records, i.e. the token subject (default: read from the token)')
    .option('--sign-lifetime <seconds>', `with --sign-key: how long the signed request stays valid (default 300, at most ${MAX_REQUEST_LIFETIME_SECONDS})`);

/** The zod side of withSigningOptions; signingOptionIssues checks them together. */
export const SigningOptions = {
  signKey: PathArg.optional(),
  audience: z.string().min(1).max(200).optional(),
  actor: z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces').optional(),
  // Defaulted where it is used (DEFAULT_SIGN_LIFETIME), so that one given without --sign-key is seen, and refused.
  signLifetime: WholeNumber(1, MAX_REQUEST_LIFETIME_SECONDS).optional(),
};
export type SigningArgs = {
  readonly signKey?: string | undefined;
  readonly audience?: string | undefined;
  readonly actor?: string | undefined;
  readonly signLifetime?: number | undefined;
};

/** How long a signed request stays valid when --sign-lifetime is not given (seconds). */
const DEFAULT_SIGN_LIFETIME = 300;

/**
 * --audience is required with --sign-key; --audience, --actor and --sign-lifetime mean nothing without it (review 331:
 * --sign-lifetime alone was taken without a word).
 */
export const signingOptionIssues = (a: SigningArgs, ctx: z.RefinementCtx): void => {
  if (a.signKey !== undefined && a.audience === undefined) ctx.addIssue({ code: 'custom', path: ['audience'], message: 'required with --sign-key' });
  for (const f of ['audience', 'actor', 'signLifetime'] as const) {
    if (a.signKey === undefined && a[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: 'only with --sign-key' });
  }
};

/**
 * A new command's correlation and causation ids visible text on one line (review 186), refused here naming the option
 * before anything is sent; not under --command-id, which may retry what an earlier version recorded with one that is
 * not: the server answers such a retry with its first outcome and refuses a new command so itself (review 348).
 */
const newCommandTracingIssues = (a: { readonly commandId?: string | undefined; readonly correlationId?: string | undefined; readonly causationId?: string | undefined }, ctx: z.RefinementCtx): void => {
  if (a.commandId !== undefined) return;
  for (const field of ['correlationId', 'causationId'] as const) {
    const value = a[field];
    const judged = value === undefined ? undefined : SenderCorrelationId.safeParse(value);
    for (const issue of judged?.success === false ? judged.error.issues : []) ctx.addIssue({ code: 'custom', path: [field], message: issue.message });
  }
};

const Envelope = z
  .object({
    ...ServerOptions,
    json: z.boolean().default(false),
    // A new command's id rule (lower case), said naming the option before anything is sent.
    commandId: NewCommandIdArg.optional(),
    // Bounded as any command's (a retry's too); visible text on one line for a new command: newCommandTracingIssues.
    correlationId: CommandMetadata.shape.correlationId,
    causationId: CommandMetadata.shape.causationId,
    ...SigningOptions,
  })
  .superRefine(signingOptionIssues)
  .superRefine(newCommandTracingIssues);

/** The subject of a bearer token (JWT `sub`), read without verifying it: only to name the actor a signature covers. */
const subjectOf = (token: string): string | undefined => {
  const payload = tryFromBase64url(token.split('.')[1] ?? '');
  if (payload === undefined) return undefined;
  try {
    const sub = (JSON.parse(new TextDecoder().decode(payload)) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
};

/** Signs commands with the key of --sign-key, for the actor the server records (the token's subject in its role). */
export interface RequestSigner {
  /** The request signature of `type` with `data` under `metadata`, issued now. */
  sign(type: string, data: unknown, metadata: { readonly commandId: string; readonly correlationId?: string; readonly causationId?: string }): unknown;
  /** Overwrites the key once nothing more is to be signed. */
  forget(): void;
}

/**
 * The signer of the signing options, undefined without --sign-key. The actor is --actor or the subject of `token`,
 * in `role`, the token's role the server records (operator for lifecycle commands; auditor for `pseudonym resolve`);
 * the key is read, and checked, before anything is sent.
 */
export const requestSigner = (args: SigningArgs, token: string, role: Role = 'operator'): RequestSigner | undefined => {
  if (args.signKey === undefined) return undefined;
  const actorId = args.actor ?? subjectOf(token);
  if (actorId === undefined) throw new UsageError('--actor: the token names no subject; give the actor id the server records');
  const key = readSignKey(args.signKey);
  return {
    sign: (type, data, { commandId, ...tracing }) =>
      signCommand(
        { type, data, metadata: { commandId, actor: { id: actorId, role }, ...tracing } },
        key,
        { audience: args.audience!, issuedAt: new Date(), lifetimeSeconds: args.signLifetime ?? DEFAULT_SIGN_LIFETIME },
      ).metadata.signature,
    forget: () => forgetSignKey(key),
  };
};

/** The signature of one command as the signing options say (undefined without --sign-key), the key wiped at once. */
export const signedOnce = (
  args: SigningArgs,
  token: string,
  role: Role,
  command: { readonly type: string; readonly data: unknown; readonly metadata: Parameters<RequestSigner['sign']>[2] },
): unknown => {
  const signer = requestSigner(args, token, role);
  if (signer === undefined) return undefined;
  try {
    return signer.sign(command.type, command.data, command.metadata);
  } finally {
    signer.forget();
  }
};

/**
 * One line for a person: what is now true of the entity and what was recorded. A repeated command id is answered with
 * the state right after its first run, however far the entity has moved since (docs/service.md, Commands), so its line
 * says when that state held, never "is" (review 245: a revoked credential's issue sent again said it "is initialized").
 */
export const summary = (type: string, outcome: CommandOutcomeJson): string =>
  outcome.deduplicated
    ? `${type}: ${outcome.streamId} was ${outcome.state} after that command (command ${outcome.commandId} was already done; nothing appended)`
    : `${type}: ${outcome.streamId} is now ${outcome.state} (${outcome.events.map((e) => `${e.type} @${e.position}`).join(', ') || 'nothing appended'})`;

/**
 * `sent`, the request of a command sent under `commandId`, as it settles; when it fails with no answer, or with the
 * server's own failure (5xx: an event store that did not answer, say), the command may have been recorded, and stderr
 * names its id: made by the CLI unless given, it is what makes sending it again safe (review 57). Every command that
 * makes its own id says it (the pseudonym routes did not: review 150, a resolve sent again was recorded twice).
 * `repeat`: what else the CLI chose that a retry must send the same (retryRepeats). A connection that never opened
 * sent nothing: said so, as safe to send again.
 */
export const namingUnknownOutcome = <T,>(io: Io, commandId: string, sent: Promise<T>, repeat = ''): Promise<T> =>
  sent.catch((error: unknown) => {
    if (error instanceof ServerUnreachable && error.unsent !== undefined) {
      // A connection that never opened: nothing was sent, so the outcome is known (review 245: it was said unknown).
      io.err(`note: command ${commandId} was not sent (${error.unsent}), so nothing was recorded: sending it again is safe; to send the same command, add --command-id ${commandId}${repeat}`);
    } else if (!(error instanceof ProblemResponse) || error.status >= 500) {
      io.err(`note: the outcome of command ${commandId} is unknown: to send it again without doing it twice, add --command-id ${commandId}${repeat}`);
    }
    throw error;
  });

/** A command the server has answered: its type, the id it was sent under, and where it was recorded when the answer says. */
export interface RecordedCommand {
  readonly type: string;
  readonly commandId: string;
  /** `@12`, or what the answer names instead (`epoch 3`). */
  readonly at?: string | undefined;
  /** What else the CLI chose that a retry must send the same (retryRepeats), after the id. */
  readonly repeat?: string;
}

/**
 * Prints `line`, the outcome of `recorded`, a command the server has recorded (or answered as done before). Where
 * standard output refuses it (a full disk), the command is done all the same: stderr says so with its id, as
 * namingUnknownOutcome does, for a script that sent it again on exit 1 rotated again or recorded a second resolution
 * (review 218). The failure is thrown still: exit 1 (README's exit codes), the outcome a script reads was not written.
 */
export const printRecordedOutcome = (io: Io, recorded: RecordedCommand, line: string): void => {
  try {
    io.out(line);
  } catch (error) {
    const reason = error instanceof CannotWrite ? error.code : error instanceof Error ? error.message : String(error);
    const { type, commandId, at, repeat = '' } = recorded;
    io.err(
      printable(
        `${type} was recorded (command id ${commandId}${at !== undefined ? `, ${at}` : ''}): its outcome could not be written to standard output: ${reason}; ` +
          `do not send it again, or send it again with --command-id ${commandId}${repeat}, which answers the same outcome`,
      ),
    );
    throw error;
  }
};

/**
 * The service's refusal of an unsigned command (one its signing policy requires signed), with what to give (an extension
 * member, printed by name): refused so, a command said only that it must be signed, not how. Lifecycle commands and the
 * `device` commands that send operator commands (device/steps.ts) say the same (review 173: only the latter did).
 */
export const withSignKeyHint = (error: unknown): unknown =>
  isServiceProblem(error, 'bad_signature')
    ? new ProblemResponse(error.status, { ...error.problem, hint: 'the signing policy requires this command signed: give --sign-key FILE and --audience NAME (the deployment as the policy names it)' })
    : error;

/**
 * The options a retry under the same --command-id must repeat that the CLI chose itself: `--not-before`, defaulted to
 * now (`subscription create`, `credential issue`), which differs at every run; without it a retry is refused (exit 2,
 * lifecycle.ts) and the operator no longer knows the time sent. Empty for a command whose every value was typed.
 */
const retryRepeats = (command: Command, opts: Readonly<Record<string, unknown>>, data: unknown): string => {
  const notBefore = typeof data === 'object' && data !== null ? (data as { notBefore?: unknown }).notBefore : undefined;
  const chosen = command.options.some((o) => o.long === '--not-before') && opts['notBefore'] === undefined && typeof notBefore === 'string';
  return chosen ? ` --not-before ${notBefore}` : '';
};

/**
 * Run once the server and token are known, before anything is signed or sent: the exit code when what the server holds
 * makes the command moot (having said so), or undefined to send it. Given the target rather than reading it again: a
 * token from a pipe (--token-file /dev/stdin) is read once. `commandId`: the --command-id given, if any.
 */
export type BeforeSending = (io: Io, target: ServerTarget, asJson: boolean, commandId: string | undefined) => Promise<number | undefined>;

/** Sends `type` with `data`; exit 0 with the outcome, or a refusal (1), bad usage (2), no server (3) from runAction. */
export const submit = async (
  io: Io,
  command: Command,
  type: string,
  data: unknown,
  opts: Readonly<Record<string, unknown>>,
  beforeSending?: BeforeSending,
): Promise<number> => {
  const keys = Object.keys(Envelope.shape);
  const args = parseOptions(command, Envelope, Object.fromEntries(Object.entries(opts).filter(([k]) => keys.includes(k))));
  const target = serverTarget(args, io);
  const moot = await beforeSending?.(io, target, args.json, args.commandId);
  if (moot !== undefined) return moot;
  const commandId = args.commandId ?? randomUUID();
  const tracing = {
    ...(args.correlationId !== undefined ? { correlationId: args.correlationId } : {}),
    ...(args.causationId !== undefined ? { causationId: args.causationId } : {}),
  };
  const signature = signedOnce(args, target.token, 'operator', { type, data, metadata: { commandId, ...tracing } });
  const sent = clientOf(target).command({
    type,
    data,
    commandId,
    ...tracing,
    ...(signature !== undefined ? { signature } : {}),
  });
  const repeat = retryRepeats(command, opts, data);
  const { outcome, body } = await namingUnknownOutcome(io, commandId, sent, repeat).catch((error: unknown) => {
    throw signature === undefined ? withSignKeyHint(error) : error;
  });
  const at = outcome.events.map((e) => `@${e.position}`).join(', ');
  printRecordedOutcome(io, { type, commandId, at: at === '' ? undefined : at, repeat }, args.json ? json(body) : printable(summary(type, outcome)));
  return EXIT.done;
};
