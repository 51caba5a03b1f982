import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';

/*
 * Which setting a refused listening socket (`credence serve`, `start`, `demo`) came from, so that its refusal names it
 * and what changes it.
 */

/** Where --host, --port or --probe-port came from, as a refusal names it, what changes it, and the value it gave. */
interface ListenSetting {
  readonly source: string;
  readonly change: string;
  /** As given (a flag's or variable's text, the file's number); undefined when not set or not known. */
  readonly given?: unknown;
}
export type ListenSettings = Readonly<Record<'host' | 'port' | 'probePort', ListenSetting>>;

/** Said when the command's settings are not known (runAction called on its own). */
export const LISTEN_UNKNOWN: ListenSettings = {
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
export const listenSettingsOf = (command: Command, env: NodeJS.ProcessEnv): ListenSettings => {
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
export const listenRefusal = (error: unknown, settings: ListenSettings): string | undefined => {
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
