import type { Command } from 'commander';
import { z } from 'zod';
import { DecimalNumber } from '../../../domain/whole-number.ts';
import { DEFAULT_TIMEOUT_MS } from '../../../adapters/client/http.ts';
import type { Io } from '../../io.ts';
import { UsageError } from '../../program.ts';
import { ServerUrl } from '../options.ts';
import type { DeviceServer } from './steps.ts';

/*
 * How a `credence device` command reaches its server: the options every subcommand that talks to one takes, in their
 * own module so that a subcommand wired in a file of its own (fleet-command.ts) shares them without importing
 * device.ts.
 */

const envOf = (io: Io) => io.env ?? process.env;

/** The server of the device routes: --server or CREDENCE_URL (no token needed). */
const serverUrl = (opts: { server?: string | undefined }, io: Io): string => {
  const url = opts.server ?? envOf(io)['CREDENCE_URL'];
  if (url === undefined || url === '') throw new UsageError('--server: required (or set CREDENCE_URL)', ['CREDENCE_URL']);
  if (!ServerUrl.safeParse(url).success) throw new UsageError('--server: must be an http:// or https:// URL');
  return url;
};

/** Seconds to wait for an answer, as every command that talks to a server takes them (options.ts serverTarget). */
const TimeoutSeconds = DecimalNumber(86_400);

/**
 * The device routes' server and timeout: --server or CREDENCE_URL (no token needed), --timeout or CREDENCE_TIMEOUT
 * (read as serverTarget reads them, which the commands with a token use).
 */
export const deviceServer = (opts: { server?: string | undefined; timeout?: string | undefined }, io: Io): DeviceServer => {
  const url = serverUrl(opts, io);
  const from = opts.timeout !== undefined ? '--timeout' : 'CREDENCE_TIMEOUT';
  const text = opts.timeout ?? envOf(io)['CREDENCE_TIMEOUT'];
  if (text === undefined || text === '') return { url };
  const seconds = TimeoutSeconds.safeParse(text);
  if (!seconds.success) throw new UsageError(`${from}: must be a number of seconds, more than 0 and at most 86400`);
  return { url, timeoutMs: Math.ceil(seconds.data * 1000) };
};

/** The server, and how long to wait for each of its answers: the same --timeout as every command that talks to a server. */
export const withServerUrl = (command: Command): Command =>
  command
    .option('--server <url>', 'the Credence server (env: CREDENCE_URL)')
    .option('--timeout <seconds>', `how long to wait for each answer of the server (env: CREDENCE_TIMEOUT; default ${DEFAULT_TIMEOUT_MS / 1000})`);
/** The operator token, as every command that talks to a server takes it: --token (seen in ps), --token-file, CREDENCE_TOKEN. */
export const withToken = (command: Command, what: string): Command =>
  command
    .option('--token <token>', `operator bearer token, ${what} (env: CREDENCE_TOKEN); shows in ps and shell history, prefer --token-file`)
    .option('--token-file <file>', 'read the operator bearer token from this file (surrounding whitespace trimmed) instead of --token');

/** What withServerUrl adds; the timeout is checked in full by serverTarget or deviceServer, which also read the environment. */
export const Server = { server: z.string().optional(), timeout: z.string().max(32).optional() };

/** Whether an operator token was given, from any of its three sources. */
export const hasToken = (o: { token?: string | undefined; tokenFile?: string | undefined }, io: Io): boolean =>
  o.token !== undefined || o.tokenFile !== undefined || (envOf(io)['CREDENCE_TOKEN'] ?? '') !== '';
