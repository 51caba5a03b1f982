import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { operatorClient, type TokenSummaryJson } from '../../adapters/client/operator.ts';
import { ROLES } from '../../adapters/http/auth/role.ts';
import { isCredenceError } from '../../domain/errors.ts';
import { json, type Io } from '../io.ts';
import { handler, parseOptions, UsageError, type RegisterCommands } from '../program.ts';
import { readTarget, ServerOptions, withJson, withServer } from './options.ts';

/**
 * `credence token create|list|revoke`: API bearer tokens, issued by a server (`--server` with an admin token) or
 * straight from the data folder that holds the signing key and access.db (`--data`): the first admin token has to
 * come from somewhere. `create` prints the token alone on stdout, so `TOKEN=$(credence token create …)` works;
 * what it is goes to stderr (or everything as JSON with --json).
 */

const Target = z.object({ data: z.string().min(1).max(4096).optional(), json: z.boolean().default(false), ...ServerOptions });
type Target = z.infer<typeof Target>;

/** Who issued or revoked, as access.db records it for a token made on this machine. */
const localActor = (): string => {
  try {
    return `cli:${userInfo().username}`.slice(0, 200);
  } catch {
    return 'cli:local';
  }
};

/** The data folder's access control, closed after `use`; loaded on demand (it opens the Secure Environment). */
const withLocalAccess = async <T>(dir: string, mustExist: boolean, use: (access: import('../../adapters/http/index.ts').AccessControl) => Promise<T>): Promise<T> => {
  if (mustExist && !existsSync(dir)) throw new UsageError(`--data: no data folder at ${dir}`);
  const { openAccessControl } = await import('../../adapters/http/auth/open-access-control.ts');
  const local = await openAccessControl(dir);
  try {
    return await use(local.access);
  } finally {
    local.close();
  }
};

const withTarget = (command: Command): Command =>
  withJson(withServer(command)).option('--data <dir>', 'issue from this data folder, without a server (default: ./data unless --server or CREDENCE_URL)');

const Create = Target.extend({
  role: z.enum(ROLES),
  subject: z.string().min(1).max(128),
  ttl: z.string().max(16).regex(/^\d{1,9}[smhd]?$/, 'a number of seconds, or a count with s, m, h or d (e.g. 24h)'),
});

const create = async (args: z.infer<typeof Create>, io: Io): Promise<number> => {
  const target = readTarget(args, io);
  let issued: { token: string; tokenId: string; subject: string; role: string; expiresAt: string };
  if (target !== undefined) {
    issued = await operatorClient(target.url, target.token).issueToken({ subject: args.subject, role: args.role, ttl: args.ttl });
  } else {
    issued = await withLocalAccess(args.data ?? './data', false, async (access) => {
      const { parseTtl, TokenSubject } = await import('../../adapters/http/index.ts');
      const subject = TokenSubject.safeParse(args.subject);
      if (!subject.success) throw new UsageError(`--subject: ${subject.error.issues[0]!.message}`);
      let ttlSeconds: number;
      try {
        ttlSeconds = parseTtl(args.ttl, access.maxTtlSeconds);
      } catch (error) {
        throw new UsageError(`--ttl: ${error instanceof z.ZodError ? error.issues[0]!.message : String(error)}`);
      }
      const t = await access.issue({ subject: subject.data, role: args.role, ttlSeconds, issuedBy: localActor() });
      return { ...t, expiresAt: t.expiresAt.toISOString() };
    });
  }
  if (args.json) io.out(json(issued));
  else {
    io.out(issued.token);
    io.err(`issued ${issued.tokenId}: ${issued.role} token for ${issued.subject}, expires ${issued.expiresAt} (shown once; revoke with credence token revoke ${issued.tokenId})`);
  }
  return 0;
};

const List = Target.extend({ all: z.boolean().default(false), limit: z.coerce.number().int().min(1).max(1000).default(100) });

const list = async (args: z.infer<typeof List>, io: Io): Promise<number> => {
  const target = readTarget(args, io);
  const tokens: TokenSummaryJson[] =
    target !== undefined
      ? [...(await operatorClient(target.url, target.token).listTokens({ limit: args.limit, includeExpired: args.all })).tokens]
      : await withLocalAccess(args.data ?? './data', true, async (access) =>
          access.list({ limit: args.limit, includeExpired: args.all }).tokens.map((t) => ({
            tokenId: t.tokenId,
            subject: t.subject,
            role: t.role,
            issuedAt: t.issuedAt.toISOString(),
            expiresAt: t.expiresAt.toISOString(),
            issuedBy: t.issuedBy,
            ...(t.revokedAt !== undefined ? { revokedAt: t.revokedAt.toISOString() } : {}),
            state: t.state,
          })),
        );
  if (args.json) io.out(json({ tokens }));
  else {
    io.out(`${'token id'.padEnd(27)} ${'role'.padEnd(10)} ${'state'.padEnd(8)} ${'expires'.padEnd(24)} subject`);
    for (const t of tokens) io.out(`${t.tokenId.padEnd(27)} ${t.role.padEnd(10)} ${t.state.padEnd(8)} ${t.expiresAt.padEnd(24)} ${t.subject}`);
  }
  return 0;
};

const Revoke = Target.extend({ tokenId: z.string().regex(/^tok_[A-Za-z0-9_-]{22}$/, 'a token id (tok_ and 22 characters)') });

const revoke = async (args: z.infer<typeof Revoke>, io: Io): Promise<number> => {
  const target = readTarget(args, io);
  if (target !== undefined) await operatorClient(target.url, target.token).revokeToken(args.tokenId);
  else {
    const revoked = await withLocalAccess(args.data ?? './data', true, async (access) => access.revoke(args.tokenId, localActor()));
    if (!revoked) {
      io.err(`refused: no token ${args.tokenId} in ${args.data ?? './data'}`);
      return 1;
    }
  }
  if (args.json) io.out(json({ revoked: args.tokenId }));
  else io.err(`revoked ${args.tokenId}: requests with it now get 401`);
  return 0;
};

/** A configuration error of access control (e.g. an unusable data folder) is bad usage, not a refusal. */
const usageOnValidation = async (run: () => Promise<number>): Promise<number> => {
  try {
    return await run();
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') {
      throw new UsageError(error.problem.issues.map((i) => `${i.path || 'token'}: ${i.message}`));
    }
    throw error;
  }
};

export const register: RegisterCommands = (program, io) => {
  const token = program.command('token').description('API bearer tokens: create, list, revoke (admin; or locally on the data folder)');
  const createCommand: Command = withTarget(token.command('create'))
    .description('issue a token; prints only the token on stdout (details on stderr)')
    .addOption(new Option('--role <role>', 'what it may do').choices(ROLES).makeOptionMandatory())
    .requiredOption('--subject <subject>', 'who it is for; the actor id of the commands it sends')
    .requiredOption('--ttl <ttl>', 'lifetime: seconds, or a count with s, m, h or d (e.g. 24h)')
    .action(handler(io, async (opts: Record<string, unknown>) => usageOnValidation(() => create(parseOptions(createCommand, Create, opts), io))));
  const listCommand: Command = withTarget(token.command('list'))
    .description('issued tokens: ids, subjects, roles, expiry, state (never the tokens)')
    .option('--all', 'include expired tokens')
    .option('--limit <n>', 'at most this many (default 100)')
    .action(handler(io, async (opts: Record<string, unknown>) => list(parseOptions(listCommand, List, opts), io)));
  const revokeCommand: Command = withTarget(token.command('revoke'))
    .description('end a token before its expiry: requests with it get 401 from then on')
    .argument('<tokenId>', 'the token id (tok_…), as create and list show it')
    .action(handler(io, async (tokenId: string, opts: Record<string, unknown>) => revoke(parseOptions(revokeCommand, Revoke, { ...opts, tokenId }), io)));
};
