import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { refusalSampler } from './refusal-sampling.ts';

/**
 * Which `hello answered with a decoy challenge` lines the API port writes whole (routes/device-endpoints.ts
 * `logDecoyChallenge`). That line is the only record of a decoy run (nothing of one is stored) and the one an operator
 * reads when a device is told to ask why it cannot associate or provision (docs/service.md), so it draws on no other
 * line's budget (review 448: sampled with the port's refusals, 20 404s from a device's address, or 200 junk hellos from
 * 10 addresses, left a revoked device's hello with no line of its reason).
 *
 * - A reason a stranger can have at will (STRANGERS_REASONS: `unknown_credential`, a made-up id with any fingerprint;
 *   `credential_mismatch`, which a real manufacturer chain under any made-up Node-ID gets, review 455) is sampled per
 *   address by a sampler of its own, with the refusals' bounds (refusal-sampling.ts: 20 per address, 200 in all, a
 *   window), its count lines `decoy hellos not logged` with the address.
 * - A credential the store holds in a state that ends its use (revoked, expired, not yet valid) is logged whole the first
 *   time in a window for each step, reason and credential, then counted: one `decoy hellos not logged` line per
 *   credential at the window's end, naming it, the step, the reason and the count. Only hellos naming a credential the
 *   store holds so get here, so no other address's traffic can hide one. At most
 *   MAX_CREDENTIALS_COUNTED_PER_WINDOW credentials a window (memory stays bounded): past it, one line counts the rest.
 *
 * Every decoy hello is counted whatever is logged, `credence_decoy_hellos_total` (metrics.ts).
 */
export const MAX_CREDENTIALS_COUNTED_PER_WINDOW = 10_000;

/**
 * The reasons a stranger can have a hello answered with at will, so sampled per address: a credential the store does
 * not know, and a certificate other than the one recorded, which a device's public manufacturer chain sent under any
 * made-up Node-ID gets (review 455: 10,000 made-up ids filled the known credentials' window, 10,000 whole lines, and
 * a revoked credential's hello after them was counted only in the `others` line).
 */
export const STRANGERS_REASONS: ReadonlySet<string> = new Set(['unknown_credential', 'credential_mismatch']);

export interface DecoyHello {
  readonly step: string;
  readonly reason: string;
  /** The address its sampling counts it under (the rate limit's: an IPv6 address by its /64). */
  readonly address: string;
  /** What names the credential the hello claimed, as the store resolves it (`nodeId`, `registreeId`, `fingerprint`, …). */
  readonly credential: Readonly<Record<string, string>>;
}

export interface DecoyHelloSampler {
  /** Whether `hello`'s line is written whole; one that is not is counted for the window's lines. */
  logs(hello: DecoyHello): boolean;
  /** Writes the window's counts and starts a new window. */
  flush(): void;
}

interface Counted {
  readonly step: string;
  readonly reason: string;
  readonly credential: Readonly<Record<string, string>>;
  suppressed: number;
}

const NOT_LOGGED = 'decoy hellos not logged';

export const decoyHelloSampler = (options: { readonly windowMs: number; readonly log: () => FastifyBaseLogger; readonly now?: () => number }): DecoyHelloSampler => {
  const now = options.now ?? Date.now;
  const strangers = refusalSampler({ ...options, message: NOT_LOGGED });
  const known = new Map<string, Counted>();
  let othersSuppressed = 0;
  let windowStart = now();
  let timer: NodeJS.Timeout | undefined;

  const flushKnown = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    for (const { step, reason, credential, suppressed } of known.values()) {
      if (suppressed > 0) options.log().info({ step, reason, ...credential, suppressed, windowMs: options.windowMs }, NOT_LOGGED);
    }
    if (othersSuppressed > 0) {
      options.log().info(
        { credential: 'others', credentialsCountedApart: MAX_CREDENTIALS_COUNTED_PER_WINDOW, suppressed: othersSuppressed, windowMs: options.windowMs },
        NOT_LOGGED,
      );
    }
    known.clear();
    othersSuppressed = 0;
    windowStart = now();
  };

  const logs = (hello: DecoyHello): boolean => {
    if (STRANGERS_REASONS.has(hello.reason)) return strangers.logs(hello.address);
    if (now() - windowStart >= options.windowMs) flushKnown();
    const key = JSON.stringify([hello.step, hello.reason, hello.credential]);
    const counted = known.get(key);
    if (counted !== undefined) counted.suppressed++;
    else if (known.size >= MAX_CREDENTIALS_COUNTED_PER_WINDOW) othersSuppressed++;
    else {
      known.set(key, { step: hello.step, reason: hello.reason, credential: hello.credential, suppressed: 0 });
      return true;
    }
    // Said as the window ends: a device that stops retrying is still counted. Unref'd: the server's close flushes it.
    timer ??= setTimeout(flushKnown, Math.max(0, windowStart + options.windowMs - now())).unref();
    return false;
  };

  return {
    logs,
    flush() {
      flushKnown();
      strangers.flush();
    },
  };
};

/** Each API port's sampler, by its HTTP server (one per server built: two services in one process share none). */
const samplers = new WeakMap<object, DecoyHelloSampler>();

/**
 * The decoy hello sampler of the port `app` serves on, made at its first decoy hello with the rate limit's window
 * (`windowMs`); its counts are written as the window ends and when the port's HTTP server closes.
 */
export const decoyHelloSamplerOf = (app: FastifyInstance, windowMs: number): DecoyHelloSampler => {
  const server = app.server;
  const existing = samplers.get(server);
  if (existing !== undefined) return existing;
  const log = app.log;
  const sampler = decoyHelloSampler({ windowMs, log: () => log });
  samplers.set(server, sampler);
  server.once('close', () => sampler.flush());
  return sampler;
};
