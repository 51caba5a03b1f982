/**
 * The 6.x client's own connection-string parser, run where the store setting is parsed (open-store.ts), so that a
 * string the client would refuse is refused with the other settings: exit 2 naming the setting, before any file is
 * created. Besides this file only client.ts touches `@eventstore/db-client`.
 *
 * The parser `console.warn`s the whole string, password included, for `tlsVerifyCert=false` and for any option key it
 * does not know (review 24). It runs here with console.warn held. An unknown key is refused rather than ignored: the
 * client would drop it without a word, so a misspelt option (`nodePrefrence=leader`, `tlsCAFil=…`) would run on the
 * default the operator meant to change, and the service's own settings refuse unknown keys too. Everything else it
 * would print is re-emitted by client.ts through `redactConnectionString`, once per process.
 *
 * The parser is reached by its path inside the package (it has no `exports` map, and the parser is not re-exported):
 * an upgrade that moves it fails at load, loudly, in test/esdb-connection-string-never-prints-its-password.test.ts.
 * Messages never repeat the string or any part of it a user wrote, except an unknown option's key.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { format } from 'node:util';
import { parseConnectionString } from '@eventstore/db-client/dist/Client/parseConnectionString.js';
import { DEFAULT_DEADLINE_MS, type Deadline } from './deadline.ts';

/** The 6.x client only knows `esdb` (lower case); KurrentDB servers speak the same protocol. */
export function toClientConnectionString(connectionString: string): string {
  return connectionString
    .trim()
    .replace(/^(?:esdb|kurrentdb)(\+discover)?:\/\//i, (_match, discover: string | undefined) =>
      discover === undefined ? 'esdb://' : 'esdb+discover://',
    );
}

/**
 * Runs `run` (synchronous) with console.warn collecting instead of printing, and gives back what it would have
 * printed; console.warn is restored however `run` ends. Nothing else runs meanwhile: the process has one thread.
 */
export function quietly<T>(run: () => T): { readonly value: T; readonly warnings: readonly string[] } {
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(format(...args));
  try {
    return { value: run(), warnings };
  } finally {
    console.warn = original;
  }
}

/** The longest wait a Node timer holds (2^31 - 1 ms); a longer one fires at once. */
const MAX_DEADLINE_MS = 2 ** 31 - 1;

/**
 * How long the adapter waits for the server (deadline.ts): the string's `defaultDeadline` (ms) when given, the client's
 * own default otherwise, and the nodes to name when it does not answer: `host:port` only, never the user info.
 */
export function deadlineOf(clientString: string): Deadline {
  const parsed = quietly(() => parseConnectionString(clientString)).value;
  const server = parsed.hosts.map((host) => `${host.address}:${host.port}`).join(',');
  return { ms: parsed.defaultDeadline ?? DEFAULT_DEADLINE_MS, server };
}

/** How the client splits `scheme://[user:password@]` off the front (its credentials may hold `/`, `?`, `#`). */
const PREFIX = /^([^:]+:\/\/)(?:([^:]+):([^@]+)@)?/;

/**
 * `text` with the connection string and its password taken out: the string as `esdb://user:***@host…`, the password
 * (as written and percent-decoded) as `***` wherever else it appears; lines that only point into the string (`^^^`)
 * are dropped, since they no longer line up.
 */
export function redactConnectionString(text: string, connectionString: string): string {
  const match = PREFIX.exec(connectionString);
  const password = match?.[3];
  const redacted = match?.[2] === undefined ? connectionString : connectionString.replace(PREFIX, `$1$2:***@`);
  let out = text.split(connectionString).join(redacted);
  if (password !== undefined) {
    for (const secret of new Set([password, safeDecode(password)])) if (secret !== '') out = out.split(secret).join('***');
  }
  return out
    .split('\n')
    .filter((line) => !/^\s*\^+\s*$/.test(line))
    .join('\n');
}

const safeDecode = (value: string): string => {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
};

/** An option key worth naming back: a plain identifier (anything else might be a misplaced secret). */
const NAMEABLE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/**
 * What is wrong with an `esdb://`/`kurrentdb://` string, as the client reads it (empty: nothing). Each problem names
 * what was expected, never the text found there.
 */
export function connectionStringProblems(connectionString: string): string[] {
  const clientString = toClientConnectionString(connectionString);
  let parsed: ReturnType<typeof parseConnectionString>;
  try {
    parsed = quietly(() => parseConnectionString(clientString)).value;
  } catch (error) {
    return [parseProblem(error, clientString)];
  }
  const problems: string[] = [];
  // `admin@host` (no password) is no user info to the client: it would look up a host named `admin@host`.
  if (parsed.hosts.some((host) => host.address.includes('@'))) problems.push('user info must be user:password (percent-encode : @ / ? # in either)');
  // The client cuts the password at its first unencoded `:` (`user:pa:ss@host` logs in with "pa") without a word: the
  // password it parsed is compared with the one written, and neither is named (review 421).
  const written = PREFIX.exec(clientString)?.[3];
  if (written !== undefined && parsed.defaultCredentials?.password !== safeDecode(written)) {
    problems.push('the client would cut the password at an unencoded `:`: percent-encode `:` in the password (as %3A)');
  }
  problems.push(...portProblems(clientString));
  // Node's timers hold at most 2^31 - 1 ms: a longer deadline would fire after 1 ms and fail every call (review 57).
  if (parsed.defaultDeadline !== undefined && parsed.defaultDeadline > MAX_DEADLINE_MS) {
    problems.push(`defaultDeadline must be at most ${MAX_DEADLINE_MS} ms (about 24.8 days)`);
  }
  problems.push(...clientConstructorProblems(parsed));
  // With it off, the client answers a wrong expected revision as a success: every conflict check of this store (expected
  // revisions, fact claims, command ids) would pass, and nothing be written (review 115).
  if ((parsed as { throwOnAppendFailure?: boolean }).throwOnAppendFailure === false) {
    problems.push('throwOnAppendFailure=false is not supported: the store relies on a refused append being an error (leave it out)');
  }
  for (const pair of optionPairs(clientString)) {
    const key = pair.slice(0, pair.indexOf('=')).trim();
    if (isKnownOption(pair, key)) continue;
    problems.push(`${NAMEABLE.test(key) ? `unknown option ${key}` : 'an unknown option'}: the client would ignore it (see docs/eventstoredb.md)`);
  }
  return problems;
}

/** How the client reads one host, `address[:port]`, and the `,` or `/` after it (dist/Client/parseConnectionString.js). */
const HOST = /^(?:(?<host>[^$+!?*'(),;[\]{}|"%~#<>=&]+)[,/]?)/;

/**
 * Each host's port, as written, that is not a whole number from 1 to 65535 (review 422): the client takes the digits
 * a port starts with (`1e3` is port 1, `2113.5` port 2113) and any integer, so `:99999` or `:-1` failed only at the
 * first call, after the whole deadline, as an event store not running. The hosts are read as the client reads them
 * (its parse has accepted the string); a host is named by its place, its port is not repeated.
 */
function portProblems(clientString: string): string[] {
  let rest = clientString.trim().replace(/\/+$/, '').replace(PREFIX, '');
  const ports: (string | undefined)[] = [];
  for (let match = HOST.exec(rest); match?.groups?.['host'] !== undefined; match = HOST.exec(rest)) {
    ports.push(match.groups['host'].trim().split(':')[1]);
    rest = rest.slice(match[0].length);
  }
  // Digits only (a trailing `/` is the client's end of the hosts), as the client reads them: decimal, leading zeros dropped.
  const whole = (port: string): boolean => {
    const value = /^\d+\/*$/.test(port.trim()) ? Number.parseInt(port.trim(), 10) : Number.NaN;
    return value >= 1 && value <= 65_535;
  };
  return ports.flatMap((port, index) =>
    port === undefined || whole(port)
      ? []
      : [`${ports.length > 1 ? `host ${index + 1}'s ` : ''}port must be a whole number from 1 to 65535 (2113 when left out)`],
  );
}

/**
 * What the client refuses only once it builds its connection (EventStoreDBClient.connectionString and the Client
 * constructor, dist/Client/index.js, 6.x), by its own rules: its parser takes any integer there. No path is repeated:
 * a user's text, which may be anything.
 */
function clientConstructorProblems(parsed: ReturnType<typeof parseConnectionString>): string[] {
  const problems: string[] = [];
  if (parsed.defaultDeadline !== undefined && parsed.defaultDeadline <= 0) problems.push('defaultDeadline must be at least 1 ms (a positive integer)');
  for (const key of ['keepAliveInterval', 'keepAliveTimeout'] as const) {
    const value = parsed[key];
    if (value !== undefined && value < -1) problems.push(`${key} must be -1 (off) or 0 or more ms`);
  }
  const { userCertFile, userKeyFile } = parsed;
  if ((userCertFile || userKeyFile) && !(userCertFile && userKeyFile)) problems.push('userCertFile and userKeyFile must be given together');
  return problems;
}

/**
 * The certificate files the client reads as it connects, that are not there (or not files), looked up as the client
 * looks them up, relative to the working directory. Checked where the store is connected to, not where the setting is
 * parsed: `credence token` and `credence ca` read a --config file's store without connecting, from any directory,
 * and a relative path names a file beside the service (review 317). No path is repeated.
 */
export function connectionStringFileProblems(connectionString: string): string[] {
  let parsed: ReturnType<typeof parseConnectionString>;
  try {
    // Quietly: the client's parser console.warns the whole string, password included, for tlsVerifyCert=false.
    parsed = quietly(() => parseConnectionString(toClientConnectionString(connectionString))).value;
  } catch {
    // Unreadable: connectionStringProblems says why.
    return [];
  }
  const notAFile = (file: string): boolean => statSync(resolve(process.cwd(), file), { throwIfNoEntry: false })?.isFile() !== true;
  const problems: string[] = [];
  // The client reads the CA file only for a TLS connection (tls=false ignores it); an empty value is none.
  if (parsed.tls !== false && parsed.tlsCAFile && notAFile(parsed.tlsCAFile)) problems.push('tlsCAFile names no file (a relative path is read from the working directory)');
  for (const key of ['userCertFile', 'userKeyFile'] as const) {
    const file = parsed[key];
    if (file && notAFile(file)) problems.push(`${key} names no file (a relative path is read from the working directory)`);
  }
  return problems;
}

/** The client's ParseError says what it `expected`; its message quotes the string, so only `expected` is used. */
function parseProblem(error: unknown, clientString: string): string {
  const { expected, location } = error as { expected?: unknown; location?: unknown };
  if (typeof expected !== 'string') {
    // decodeURIComponent of the user info or a file option: its message names nothing, but say which parts decode.
    return error instanceof URIError
      ? 'a percent-encoded part (user name, password, file or connection name) is malformed'
      : 'not a connection string the EventStoreDB client reads';
  }
  // An option's value was refused: name the option (its key precedes the value the client points at).
  const from = Array.isArray(location) && typeof location[0] === 'number' ? location[0] : -1;
  const key = /[?&]([^=&?]+)=$/.exec(clientString.slice(0, from))?.[1]?.trim();
  const option = key !== undefined && NAMEABLE.test(key) ? ` for option ${key}` : '';
  return `must be scheme://[user:password@]host[:port][,host[:port]…][?key=value&…]: expected ${expected}${option}`;
}

/** The `key=value` pairs after the hosts, split as the client splits them (its parse has accepted the string). */
function optionPairs(clientString: string): string[] {
  const rest = clientString.trim().replace(/\/+$/, '').replace(PREFIX, '');
  const query = rest.indexOf('?'); // hosts never hold a `?`
  return query < 0 ? [] : rest.slice(query + 1).split('&');
}

/**
 * Whether the client keeps this option: parsed alone, it sets a field. The client's own table decides, not a copy
 * of it here (so a client that learns an option accepts it here too). `dnsDiscover` is a field of every result.
 */
function isKnownOption(pair: string, key: string): boolean {
  if (key === 'dnsDiscover') return true;
  try {
    const alone = quietly(() => parseConnectionString(`esdb://host?${pair}`)).value;
    return Object.keys(alone).some((field) => field !== 'hosts' && field !== 'dnsDiscover');
  } catch {
    return false;
  }
}
