import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { WholeNumber } from '../../domain/whole-number.ts';
import { isCredenceError } from '../../domain/errors.ts';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { ProblemResponse } from '../../adapters/client/http.ts';
import { revokedAt } from '../../adapters/driven/access/index.ts';
import type { TokenRevocation, TokenSummaryJson } from '../../adapters/client/operator.ts';
import { TokenId, TokenSubject } from '../../adapters/http/auth/access-control.ts';
import { ROLES } from '../../adapters/http/auth/role.ts';
import { PROBLEM_TYPE_BASE } from '../../adapters/http/problems.ts';
import { parseTtl, Ttl } from '../../adapters/http/auth/ttl.ts';
import { TokenConfig } from '../../adapters/http/token-config.ts';
import { scopeIssues, TokenScope } from '../../adapters/http/auth/token-scope.ts';
import { tokenPageCursor } from '../../adapters/http/auth/token-page-cursor.ts';
import { KeyHandle } from '../../domain/ports/index.ts';
import { json, type Io } from '../io.ts';
import { printOneTimeValue } from '../one-time-output.ts';
import { printable } from '../printable.ts';
import { shellWord } from '../shell-word.ts';
import { handler, parseOptions, usageOnValidation, UsageError, type RegisterCommands } from '../program.ts';
import { clientOf, PathArg, withJson, withServer } from './options.ts';
import { notHeldNote, subscriptionsNotHeldLocally, subscriptionsNotHeldOn } from './subscriptions-not-held.ts';
import { listLocalTokens, localActor, localConfig, Target, targetOf, withLocalAccess } from './token-target.ts';

/**
 * `credence token create|list|revoke`: API bearer tokens, issued by a server (`--server` with an admin token) or
 * straight from the data folder that holds the signing key and access.db (`--data`): the first admin token has to
 * come from somewhere. Locally the data folder and the token settings (issuer, audience, longest lifetime) are read
 * the way `credence serve` reads them (--data, CREDENCE_DATA, the --config file), so a token issued here is one that
 * server accepts. `create` prints the token alone on stdout, so `TOKEN=$(credence token create …)` works; what it
 * is goes to stderr (or everything as JSON with --json).
 */

const withTarget = (command: Command): Command =>
  withJson(withServer(command))
    .option('--data <dir>', 'work on this data folder, without a server (env CREDENCE_DATA; default ./data unless --server or CREDENCE_URL)')
    .option('--config <file>', "the service's configuration file (JSON, as credence serve --config): its data folder and token issuer, audience and longest lifetime");

/** The longest lifetime any service can be set to issue tokens for: the bound of tokens.maxTtlSeconds itself. */
const LONGEST_ANY_SERVICE_TAKES = TokenConfig.shape.maxTtlSeconds.unwrap().out.out.maxValue ?? Number.MAX_SAFE_INTEGER;

const Create = Target.extend({
  role: z.enum(ROLES),
  subject: TokenSubject,
  // The lifetime's form is checked here; its bound is the service's: the local --config's (below), or, for a server,
  // the most any service takes (review 218: `99999d` was the server's `body.ttl`, exit 1).
  ttl: Ttl(Number.MAX_SAFE_INTEGER),
  // Checked as a scope by scopeOf, which names the flags.
  subscription: z.array(z.string()).optional(),
  appId: z.array(z.string()).optional(),
});

/** The flag a scope's field is given with. */
const SCOPE_FLAG = { subscriptions: '--subscription', appIds: '--app-id' } as const;

/**
 * The scope --subscription and --app-id give (SER-025), checked as the access control checks it, before anything is
 * opened or sent: a refused scope writes nothing. Neither flag: no scope, the whole fleet.
 */
const scopeOf = (args: z.infer<typeof Create>): TokenScope | undefined => {
  if (args.subscription === undefined && args.appId === undefined) return undefined;
  const parsed = TokenScope.safeParse({
    ...(args.subscription !== undefined ? { subscriptions: args.subscription } : {}),
    ...(args.appId !== undefined ? { appIds: args.appId } : {}),
  });
  const flagOf = (path: readonly PropertyKey[]): string => {
    const [list, index] = path;
    const flag = SCOPE_FLAG[list as keyof typeof SCOPE_FLAG];
    if (flag === undefined) return '--subscription, --app-id';
    const given = typeof index === 'number' ? (list === 'subscriptions' ? args.subscription : args.appId)?.[index] : undefined;
    return given === undefined ? flag : `${flag} ${JSON.stringify(given)}`;
  };
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `${flagOf(i.path)}: ${i.message}`));
  const issues = scopeIssues(args.role, parsed.data, undefined);
  if (issues.length > 0) throw new UsageError(issues.map((i) => `--subscription, --app-id: ${i.message}`));
  return parsed.data;
};

/** A scope in a line of text: `subscriptions a, b; App-IDs Rx`. */
const scopeText = (scope: unknown): string | undefined => {
  const parsed = z.object({ subscriptions: z.array(z.string()).optional(), appIds: z.array(z.string()).optional() }).safeParse(scope);
  if (scope === undefined || !parsed.success) return undefined;
  const parts = [
    ...(parsed.data.subscriptions !== undefined ? [`subscriptions ${parsed.data.subscriptions.join(', ')}`] : []),
    ...(parsed.data.appIds !== undefined ? [`App-IDs ${parsed.data.appIds.join(', ')}`] : []),
  ];
  return parts.join('; ');
};

/**
 * The token printed: its only copy. Where it is not written out (a full disk, a reader gone: review 81) nobody holds
 * it, so it is revoked at once, where it was issued (locally or through the server).
 */
const printIssued = (io: Io, args: z.infer<typeof Create>, issued: Issued, revoke: () => Promise<void>, where: string): Promise<void> =>
  printOneTimeValue(io, args.json ? json(issued) : issued.token, {
    undo: revoke,
    undone: `revoked ${issued.tokenId}: it was issued, but could not be written out, so nobody holds it`,
    notUndone: (why) => `error: ${issued.tokenId} was issued but could not be written out, and revoking it failed (${why}): revoke it: credence token revoke ${shellWord(issued.tokenId)} ${where}`,
  });

type Issued = { token: string; tokenId: string; subject: string; role: string; expiresAt: string; scope?: unknown };

/** The flag each field of the access control's token request is given with. */
const ISSUE_FLAG: Readonly<Record<string, string>> = { subject: '--subject', role: '--role', ttlSeconds: '--ttl', scope: '--subscription, --app-id' };

/**
 * A local issue the access control refuses, as a usage error naming the flag, as every other of the command does
 * (review 320: `subject: root holds 1 active token…` for tokens.maxActivePerSubject). Any other refusal passes as it is.
 */
const namingTheFlags = (error: unknown): never => {
  if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') throw error;
  const flags = error.problem.issues.map((i) => ISSUE_FLAG[i.path.split('.')[0] ?? '']);
  if (flags.some((flag) => flag === undefined)) throw error;
  throw new UsageError(error.problem.issues.map((i, at) => `${flags[at]}: ${i.message}`));
};

const create = async (args: z.infer<typeof Create>, io: Io): Promise<number> => {
  const target = targetOf(args, io);
  const scope = scopeOf(args);
  let issued: Issued;
  // Where the hint's revoke must go: the server that issued it (review 136: the hint left --server out).
  let revokeWhere = '';
  // The data folder this command made, to be said.
  let made: string | undefined;
  // The scope's subscriptions not recorded where the token was issued (undefined ids: not told there).
  let notHeld: { readonly ids: readonly string[] | undefined; readonly where: string } | undefined;
  if (target !== undefined) {
    try {
      parseTtl(args.ttl, LONGEST_ANY_SERVICE_TAKES);
    } catch (error) {
      throw new UsageError(`--ttl: ${error instanceof z.ZodError ? error.issues[0]!.message : String(error)}`);
    }
    const body = { subject: args.subject, role: args.role, ttl: args.ttl, ...(scope !== undefined ? { scope } : {}) };
    const client = clientOf(target);
    issued = await client.issueToken(body);
    revokeWhere = ` --server ${shellWord(target.url)}`;
    await printIssued(io, args, issued, async () => void (await client.revokeToken(issued.tokenId)), revokeWhere.trimStart());
    if (scope?.subscriptions !== undefined) notHeld = { ids: await subscriptionsNotHeldOn(client, scope.subscriptions), where: 'the server' };
  } else {
    const config = await localConfig(args, io);
    // Found in review: checked only once the access control was open, a refused --ttl had already made the data
    // folder, its Secure Environment and a signing key. The bound is the one the access control applies.
    let ttlSeconds: number;
    try {
      ttlSeconds = parseTtl(args.ttl, config.tokens.maxTtlSeconds);
    } catch (error) {
      throw new UsageError(`--ttl: ${error instanceof z.ZodError ? error.issues[0]!.message : String(error)}`);
    }
    // Review 271: a mistyped --data made a new folder (KEK, Secure Environment, signing key) and a token no service
    // accepts, without a word. Made still (a folder's first admin token may come before its first start), but said.
    const newFolder = !existsSync(config.data);
    // Printed while access.db is open: a token not written out is revoked there and then. The output's failure is
    // carried out as it is, not taken for the data folder's.
    const printed = await withLocalAccess(config, io, false, async (access, dir) => {
      const t = await access
        .issue({ subject: args.subject, role: args.role, ttlSeconds, issuedBy: localActor(), ...(scope !== undefined ? { scope } : {}) })
        .catch(namingTheFlags);
      const local = { ...t, expiresAt: t.expiresAt.toISOString() };
      const revoke = async (): Promise<void> => {
        if (!access.revoke(t.tokenId, localActor())) throw new Error(`${t.tokenId} is not in ${dir}`);
      };
      // Review 173: without --data the hint, pasted elsewhere, named ./data (or, with CREDENCE_URL set, the server).
      revokeWhere = ` --data ${shellWord(dir)}`;
      return printIssued(io, args, local, revoke, revokeWhere.trimStart()).then(
        () => ({ local }),
        (failure: unknown) => ({ local, failure }),
      );
    });
    if ('failure' in printed) throw printed.failure;
    issued = printed.local;
    if (scope?.subscriptions !== undefined) notHeld = await subscriptionsNotHeldLocally(config, scope.subscriptions, io, newFolder);
    if (newFolder) made = resolve(config.data);
  }
  if (!args.json) {
    const scoped = scopeText(issued.scope);
    const what = `${issued.role} token for ${issued.subject}${scoped !== undefined ? ` (scope: ${scoped})` : ''}`;
    io.err(printable(`issued ${issued.tokenId}: ${what}, expires ${issued.expiresAt} (shown once; revoke with credence token revoke ${shellWord(issued.tokenId)}${revokeWhere})`));
  }
  if (notHeld?.ids !== undefined && notHeld.ids.length > 0) io.err(printable(notHeldNote(notHeld.ids, notHeld.where)));
  if (made !== undefined) {
    io.err(printable(`note: made a new data folder at ${made} (its Secure Environment, a signing key, access.db): only a service on this folder accepts the token; check the path if you meant an existing folder`));
  }
  return 0;
};

const TokenCursor = tokenPageCursor('a cursor from a previous page (the `next` of --json, or the one the `more:` line names)');

const List = Target.extend({ all: z.boolean().default(false), limit: WholeNumber(1, 1000).default(100), after: TokenCursor.optional() });

const list = async (args: z.infer<typeof List>, io: Io): Promise<number> => {
  const target = targetOf(args, io);
  const query = { limit: args.limit, includeExpired: args.all, ...(args.after !== undefined ? { after: args.after } : {}) };
  const page: { tokens: readonly TokenSummaryJson[]; next?: string | undefined } =
    target !== undefined
      ? await clientOf(target).listTokens(query)
      : await listLocalTokens(await localConfig(args, io), query, { fromConfigFile: args.config !== undefined });
  const { tokens, next } = page;
  if (args.json) io.out(json({ tokens, ...(next !== undefined ? { next } : {}) }));
  else {
    io.out(`${'token id'.padEnd(27)} ${'role'.padEnd(10)} ${'state'.padEnd(8)} ${'expires'.padEnd(24)} subject`);
    for (const t of tokens) {
      const scoped = scopeText(t['scope']);
      // access.db's scope, role or a time of it did not read: the server refuses the token (state `refused`; `active`
      // from a server before that state), and an admin should know to revoke it. One revoked or expired needs nothing
      // more. What did not read is `?` (review 90).
      const live = t.state === 'refused' || t.state === 'active';
      const damaged = [...(t['scopeDamaged'] === true ? ['scope'] : []), ...(t['recordDamaged'] === true ? ['record'] : [])].join(' and ');
      // Refused for what the settings say of it (review 158): a lifetime past tokens.maxTtlSeconds, a reserved subject,
      // an issue time not come yet (review 320).
      const refusedFor = t.state === 'refused' && typeof t['refusedBecause'] === 'string' ? t['refusedBecause'] : undefined;
      const note =
        damaged !== ''
          ? ` (${damaged} damaged${live ? ': revoke this token' : ''})`
          : refusedFor !== undefined
            ? ` (refused: ${refusedFor.replaceAll('_', ' ')}: ${refusedFor === 'issued_in_the_future' ? `good from ${String(t['issuedAt'] ?? '?')}; revoke it if the clock that issued it was wrong` : 'revoke this token'})`
            : scoped !== undefined
              ? ` (scope: ${scoped})`
              : '';
      io.out(printable(`${t.tokenId.padEnd(27)} ${(t.role ?? '?').padEnd(10)} ${t.state.padEnd(8)} ${(t.expiresAt ?? '?').padEnd(24)} ${t.subject}${note}`));
    }
    // Found in review: a page cut at --limit looked like the whole list, so a token past it went unseen. On stderr,
    // so the rows on stdout stay rows.
    if (next !== undefined) io.err(printable(`more: credence token list --after ${shellWord(next)}${args.all ? ' --all' : ''}${args.limit !== 100 ? ` --limit ${args.limit}` : ''} (and the same --server, --data or --config) for the next page`));
  }
  return 0;
};

const Revoke = Target.extend({ tokenId: TokenId });

/**
 * What a revocation did: the token unknown; revoked already (when) with `chained` tokens down its chain still live
 * revoked now; or revoked now with `chained` tokens issued with it (unknown through a server, which answers 204 alone).
 */
type Revocation = { readonly found: false } | { readonly found: true; readonly before?: string; readonly chained?: number };

/** A server's answer as a local revocation's (review 186: a token revoked already was said to be revoked now). */
const fromServer = (answer: TokenRevocation): Revocation =>
  answer.already ? { found: true, before: answer.revokedBefore ?? 'at a time its record does not say', chained: answer.chained } : { found: true };

const revoke = async (args: z.infer<typeof Revoke>, io: Io): Promise<number> => {
  const target = targetOf(args, io);
  const { done, dir } =
    target !== undefined
      ? { done: fromServer(await clientOf(target).revokeToken(args.tokenId)), dir: undefined }
      : await withLocalAccess(await localConfig(args, io), io, 'or-server', async (access, dir) => {
          const revoked = access.revokeChain(args.tokenId, localActor());
          if (revoked === undefined) return { done: { found: false } as Revocation, dir };
          // Revoked already (signed out alone, say): what this revocation ended is the chain issued with it still live, if any.
          const before = revoked.includes(args.tokenId) ? undefined : revokedAt(dir, args.tokenId);
          return { done: { found: true, ...(before !== undefined ? { before } : {}), chained: revoked.filter((id) => id !== args.tokenId).length } as Revocation, dir };
        });
  // The refusal the server gives, in the same words and shape (--json prints it on stdout as the server's).
  if (!done.found) throw new ProblemResponse(404, { type: `${PROBLEM_TYPE_BASE}not_found`, title: 'Not found', status: 404, detail: `token ${args.tokenId} does not exist in ${dir}`, tokenId: args.tokenId });
  if (args.json) {
    io.out(json({ revoked: args.tokenId, ...(done.chained !== undefined ? { chained: done.chained } : {}), ...(done.before !== undefined ? { revokedBefore: done.before } : {}) }));
  } else if (done.before !== undefined && done.chained === 0) io.err(printable(`${args.tokenId} was revoked already (${done.before}): nothing more revoked`));
  else if (done.before !== undefined) {
    io.err(printable(`${args.tokenId} was revoked already (${done.before}); revoked now the ${done.chained ?? 0} token(s) issued with it down the chain that were still live: requests with them now get 401 (token list shows them as revoked; with --all, also once expired)`));
  }
  // A server's 204 does not say how many tokens down the chain it revoked with this one.
  else if (done.chained === undefined) io.err(`revoked ${args.tokenId}: requests with it, and with every token issued with it down the chain, now get 401`);
  // Found in review: the tokens issued with it, revoked with it down the chain, went unsaid; review 81: and uncounted.
  else io.err(`revoked ${args.tokenId} and ${done.chained} token(s) issued with it down the chain: requests with any of them now get 401 (token list shows them as revoked; with --all, also once expired)`);
  return 0;
};

const RotateKey = z.object({
  data: PathArg.optional(),
  config: PathArg.optional(),
  json: z.boolean().default(false),
  withdrawPrevious: z.boolean().default(false),
  withdrawMissing: z
    .string()
    .refine((handle) => KeyHandle.safeParse(handle).success, { message: 'must be a key handle (key_ and 24 base64url characters), as the refusal without it names the key' })
    .optional(),
});

/**
 * What became of a key the rotation retired. Withdrawn (--withdraw-previous), it has no live token because each it
 * signed was revoked first: review 174 read "destroyed: no live token was signed with it" beside "2 token(s) …
 * revoked". Otherwise a key destroyed at once had none.
 */
const previousKeyLine = (k: { readonly kid: string; readonly state: string; readonly liveTokens: number; readonly until?: string | Date | undefined }, withdrawn: boolean): string => {
  if (k.state !== 'destroyed') return `key ${k.kid} retired: it verifies the ${k.liveTokens} live token(s) it signed until the last expires (${k.until}), then is destroyed`;
  return withdrawn ? `key ${k.kid} withdrawn: every token it signed was revoked, then the key destroyed` : `key ${k.kid} destroyed: no live token was signed with it`;
};

/**
 * Only on the machine that holds the data folder: the key is made in its Secure Environment. A running service
 * signs with the new key from its next token on, and keeps verifying the old key's tokens (read from access.db).
 */
const rotateKey = async (args: z.infer<typeof RotateKey>, io: Io): Promise<number> => {
  const rotated = await withLocalAccess(await localConfig(args, io), io, 'locally-only', async (access) =>
    access.rotateSigningKey(localActor(), { withdrawPrevious: args.withdrawPrevious, ...(args.withdrawMissing !== undefined ? { withdrawMissing: args.withdrawMissing } : {}) }),
  );
  const previous = rotated.previous.map((k) => ({ ...k, ...(k.until !== undefined ? { until: k.until.toISOString() } : {}) }));
  if (args.json) {
    io.out(json({ kid: rotated.kid, previous, revoked: rotated.revoked, ...(rotated.goneFromToken !== undefined ? { goneFromToken: rotated.goneFromToken } : {}) }));
    return 0;
  }
  io.out(rotated.kid);
  io.err(`new tokens are signed with key ${rotated.kid} from now on`);
  for (const k of previous) io.err(previousKeyLine(k, args.withdrawPrevious));
  // Review 133: withdrawn without --withdraw-previous, so said whatever it was.
  if (rotated.goneFromToken !== undefined) {
    io.err(`key ${rotated.goneFromToken}, not in the token (destroyed there, as --withdraw-missing says; a restore brings no key of a token back): withdrawn`);
  }
  if (args.withdrawPrevious || rotated.goneFromToken !== undefined) io.err(`${rotated.revoked.length} token(s) signed with the previous key(s) revoked: issue new ones`);
  return 0;
};

export const register: RegisterCommands = (program, io) => {
  const token = program.command('token').description('API bearer tokens: create, list, revoke (admin; or locally on the data folder), rotate-key (locally)');
  const createCommand: Command = withTarget(token.command('create'))
    .description('issue a token; prints only the token on stdout (details on stderr)')
    .addOption(new Option('--role <role>', 'what it may do').choices(ROLES).makeOptionMandatory())
    .requiredOption('--subject <subject>', 'who it is for; the actor id of the commands it sends')
    .requiredOption('--ttl <ttl>', 'lifetime: seconds, or a count with s, m, h or d (e.g. 24h)')
    .option('--subscription <id...>', "integrator only: its stream publishes these M2M subscriptions' nodes only (repeatable, at most 32; SER-025)")
    .option('--app-id <id...>', "integrator only: its stream publishes these App-IDs' applications only (repeatable, at most 32)")
    .action(handler(io, async (opts: Record<string, unknown>) => usageOnValidation(() => create(parseOptions(createCommand, Create, opts), io), 'token')));
  const listCommand: Command = withTarget(token.command('list'))
    .description('issued tokens: ids, subjects, roles, expiry, state (never the tokens)')
    .option('--all', 'include expired tokens')
    .option('--limit <n>', 'at most this many (default 100); a `more:` line on stderr (`next` with --json) says when there are more')
    .option('--after <cursor>', 'the page after this cursor (the one a `more:` line or `next` gave)')
    .action(handler(io, async (opts: Record<string, unknown>) => usageOnValidation(() => list(parseOptions(listCommand, List, opts), io), 'token')));
  const rotateKeyCommand: Command = withJson(token.command('rotate-key'))
    .description("make a new signing key for tokens (on the data folder's machine); the old one verifies its tokens until they expire")
    .option('--data <dir>', 'the data folder (env CREDENCE_DATA; default ./data)')
    .option('--config <file>', "the service's configuration file (JSON, as credence serve --config): its data folder and Secure Environment")
    .option('--withdraw-previous', 'the old key may be compromised: revoke every token it signed now and destroy it')
    .option(
      '--withdraw-missing <handle>',
      'PKCS#11: the current key (this handle), not in the token, was destroyed there since a backup: withdraw it, revoking its tokens (refused with a token shown not to be the folder\'s)',
    )
    .action(handler(io, async (opts: Record<string, unknown>) => usageOnValidation(() => rotateKey(parseOptions(rotateKeyCommand, RotateKey, opts), io), 'token')));
  const revokeCommand: Command = withTarget(token.command('revoke'))
    .description('end a token before its expiry: requests with it get 401 from then on')
    .argument('<tokenId>', 'the token id (tok_…), as create and list show it')
    .action(
      handler(io, async (tokenId: string, opts: Record<string, unknown>) => usageOnValidation(() => revoke(parseOptions(revokeCommand, Revoke, { ...opts, tokenId }), io), 'token')),
    );
};
