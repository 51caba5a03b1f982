import type { Command } from 'commander';
import { z } from 'zod';
import { UsageError } from '../program.ts';
import { parseStreamId } from '../../domain/streams.ts';
import type { Io } from '../io.ts';

/**
 * Options several commands share, with the one rule for where a read command reads: `--server` (or
 * CREDENCE_URL when neither --data nor --store is given) reads through the HTTP API; otherwise the local data
 * folder (`--data`, default ./data) or the store of `--store`.
 */

export const withJson = (command: Command): Command => command.option('--json', 'print the result as JSON (no progress bar)');

export const withLocalStore = (command: Command, dataDefault = './data'): Command =>
  command
    .option('--data <dir>', `the local data folder (default: ${dataDefault})`)
    .option('--store <connection>', 'read the events from this store instead: sqlite:<folder>, esdb://… or kurrentdb://…');

export const withServer = (command: Command): Command =>
  command
    .option('--server <url>', 'a Credence server, e.g. http://127.0.0.1:8080 (env: CREDENCE_URL)')
    .option('--token <token>', 'bearer token for --server (env: CREDENCE_TOKEN)');

/** http(s) only, bounded: the URL ends up in messages and requests. */
export const ServerUrl = z
  .string()
  .max(2048)
  .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), 'must be an http:// or https:// URL');
export const BearerToken = z.string().min(1).max(8192).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

export interface ServerTarget {
  readonly url: string;
  readonly token: string;
}

const envOf = (io: Io): Readonly<Record<string, string | undefined>> => io.env ?? process.env;

/** The server and token of a command that only talks to a server; a missing one is bad usage (exit 2). */
export const serverTarget = (opts: { server?: string; token?: string }, io: Io): ServerTarget => {
  const env = envOf(io);
  const url = opts.server ?? env['CREDENCE_URL'];
  const token = opts.token ?? env['CREDENCE_TOKEN'];
  const lines: string[] = [];
  if (url === undefined || url === '') lines.push('--server: required (or set CREDENCE_URL)');
  else if (!ServerUrl.safeParse(url).success) lines.push(`--server: must be an http:// or https:// URL`);
  if (token === undefined || token === '') lines.push('--token: required with --server (or set CREDENCE_TOKEN)');
  else if (!BearerToken.safeParse(token).success) lines.push('--token: must be printable ASCII without spaces');
  if (lines.length > 0) throw new UsageError(lines);
  return { url: url!, token: token! };
};

/**
 * Where a read command reads: the server when `--server` is given, or CREDENCE_URL is set and neither --data
 * nor --store is; the local store otherwise.
 */
export const readTarget = (opts: { server?: string; token?: string; data?: unknown; store?: unknown }, io: Io): ServerTarget | undefined => {
  const local = opts.data !== undefined || opts.store !== undefined;
  if (opts.server !== undefined && local) throw new UsageError('--server: reads from a server or from --data/--store, not both');
  if (opts.server === undefined && (local || (envOf(io)['CREDENCE_URL'] ?? '') === '')) return undefined;
  return serverTarget(opts, io);
};

/** Long work draws a bar on a terminal only, never with --json. */
export const progressStream = (io: Io, asJson: boolean | undefined): NodeJS.WriteStream | undefined =>
  asJson === true ? undefined : io.progress;

/** The zod side of withServer: checked in full by readTarget / serverTarget, which also read the environment. */
export const ServerOptions = { server: z.string().optional(), token: z.string().optional() };

/** `<stream>`: an entity stream `<kind>-<id>`, parsed into its kind and id (the API's path segments). */
export const StreamArg = z
  .string()
  .max(300)
  .transform((s, ctx) => {
    const ref = parseStreamId(s);
    if (ref === undefined) {
      ctx.addIssue({ code: 'custom', message: 'stream must be <kind>-<id> with kind node, credential, association, application, subscription or pseudonym' });
      return z.NEVER;
    }
    return ref;
  });
