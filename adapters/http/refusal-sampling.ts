import { normalizeIP } from '@fastify/rate-limit';
import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify';

/**
 * The refusals a stranger can have the API port send at will (429s, refusals of paths no route matches, the 503
 * `starting` of any request while the start has not finished), logged
 * per address and window: the first REFUSALS_LOGGED_PER_ADDRESS whole (MAX_REFUSALS_LOGGED_PER_WINDOW at most in all),
 * then one line saying how many were not. Every
 * one was two lines before, with its URL whole (review 381: 200 requests on a 14 kB path wrote 2.93 MB; past 8 MiB
 * behind, log-destination.ts drops new lines, genuine ones included, so a stranger could blind the log).
 */
export const REFUSALS_LOGGED_PER_ADDRESS = 20;
/** Addresses counted apart in a window; refusals from any further address share one count (memory stays bounded). */
export const MAX_ADDRESSES_SAMPLED = 1_000;
/**
 * Refusals logged whole in a window, all addresses together (review 382: bounded per address only, 5,000 IPv6 /64s,
 * which one /48 holds 13 times over, logged 20,020 whole lines in a window, ~19 MB). Past it, one line counts them all.
 */
export const MAX_REFUSALS_LOGGED_PER_WINDOW = 200;
const OTHER_ADDRESSES = Symbol('other addresses');

type AddressKey = string | typeof OTHER_ADDRESSES;

interface Counted {
  logged: number;
  suppressed: number;
}

export interface RefusalSampler {
  /** Whether a refusal from `address` is logged; one that is not is counted for the window's line. */
  logs(address: string): boolean;
  /** Writes the window's counts (one line per address with refusals left out) and starts a new window. */
  flush(): void;
}

export interface RefusalSamplerOptions {
  readonly windowMs: number;
  readonly log: () => FastifyBaseLogger;
  readonly now?: () => number;
  /**
   * The count lines' `msg` (default `refusals not logged`): another sampler of the same bounds names its own lines
   * (decoy-hello-sampling.ts, `decoy hellos not logged`).
   */
  readonly message?: string;
}

export const refusalSampler = (options: RefusalSamplerOptions): RefusalSampler => {
  const now = options.now ?? Date.now;
  const message = options.message ?? 'refusals not logged';
  const counts = new Map<AddressKey, Counted>();
  let windowStart = now();
  let timer: NodeJS.Timeout | undefined;
  let loggedInWindow = 0;
  // Refusals an address still had room for, left out once the window's budget was spent: counted in one line.
  let overBudget = 0;

  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    for (const [address, { suppressed }] of counts) {
      if (suppressed === 0) continue;
      options.log().info(
        { ...(address === OTHER_ADDRESSES ? { remoteAddress: 'others', addressesCountedApart: MAX_ADDRESSES_SAMPLED } : { remoteAddress: address }), suppressed, windowMs: options.windowMs },
        message,
      );
    }
    if (overBudget > 0) {
      options.log().info(
        { remoteAddress: 'any', suppressed: overBudget, refusalsLoggedPerWindow: MAX_REFUSALS_LOGGED_PER_WINDOW, windowMs: options.windowMs },
        message,
      );
    }
    counts.clear();
    loggedInWindow = 0;
    overBudget = 0;
    windowStart = now();
  };

  const logs = (address: string): boolean => {
    if (now() - windowStart >= options.windowMs) flush();
    const key: AddressKey = counts.has(address) || counts.size < MAX_ADDRESSES_SAMPLED ? address : OTHER_ADDRESSES;
    let counted = counts.get(key);
    if (counted !== undefined && counted.logged >= REFUSALS_LOGGED_PER_ADDRESS) counted.suppressed++;
    else if (loggedInWindow >= MAX_REFUSALS_LOGGED_PER_WINDOW) overBudget++;
    else {
      if (counted === undefined) counts.set(key, (counted = { logged: 0, suppressed: 0 }));
      counted.logged++;
      loggedInWindow++;
      return true;
    }
    // Said as the window ends, not at the address's next refusal: a flood that stops is still counted in the log.
    // Unref'd: a pending count keeps no process alive (the server's close flushes it).
    timer ??= setTimeout(flush, Math.max(0, windowStart + options.windowMs - now())).unref();
    return false;
  };

  return { logs, flush };
};

/**
 * Whether a refusal is one a stranger can have sent at will, and so logged through a sampler: a 429, or a refusal of a
 * path no route matched (`route` undefined). Any other refusal, of a route's own (a 417 on /readyz, a 401), is logged
 * every time. The one rule of both ports (ApiRequestLog; probe-server.ts, review 433: the probe port sampled every
 * refusal, so a flood of unknown paths from a kubelet's address left its /readyz refusals unsaid for the window).
 */
export const isSampledRefusal = (status: number, route: string | undefined): boolean => status === 429 || (status >= 400 && route === undefined);

/** Requests whose refusal a stranger can have sent at will though a route matched them (`sampleTheRefusalOf`). */
const refusedAtWill = new WeakSet<FastifyRequest>();

/**
 * Marks `request`'s refusal as one a stranger can have sent at will, whatever route matched it: logged through the
 * sampler as a 429 is (the 503 `starting` every request gets while the start has not finished,
 * server.ts, is answered before the rate limit is looked at, and wrote a whole line each, 1,000 requests 1,000 lines).
 */
export const sampleTheRefusalOf = (request: FastifyRequest): void => {
  refusedAtWill.add(request);
};

/** Routes an orchestrator or a scraper calls every few seconds: answered, they write no line (as on the probe port). */
const PROBE_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The API port's request log: one line per request, as it completes (`request completed`, with the request's method,
 * URL, address and headers that `incoming request` carried, its status, problem and time); none for a probe answered;
 * 429s, refusals of unmatched paths and those marked `sampleTheRefusalOf` through `sampler`. Fastify's other lines (a stream's error, …) are kept.
 */
export class ApiRequestLog extends LogController {
  private readonly sampler: RefusalSampler;

  constructor(sampler: RefusalSampler) {
    super();
    this.sampler = sampler;
  }

  /**
   * Nothing for a request a route or the not-found handler answers: requestCompleted says it. One the router refuses
   * through frameworkErrors (a 414 for an overlong path parameter, a 400 for a malformed URL, an async constraint's
   * error: fastify.js onBadUrl, onMaxParamLength) has no route context, and Fastify calls requestCompleted for none of
   * them (review 382: 30 such 414s wrote no line, a 414's request id led nowhere): it is said as its answer ends.
   */
  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    if (request.routeOptions.handler !== undefined) return;
    const started = performance.now();
    let said = false;
    const say = (): void => {
      if (said) return;
      said = true;
      reply.raw.off('finish', say);
      reply.raw.off('close', say);
      this.routerRefusalCompleted(request, reply, performance.now() - started);
    };
    reply.raw.once('finish', say);
    reply.raw.once('close', say);
  }

  /** A router refusal, logged as an unmatched refusal is (sampled); its time is measured here (Fastify's is 0). */
  private routerRefusalCompleted(request: FastifyRequest, reply: FastifyReply, responseTime: number): void {
    if (!this.sampler.logs(normalizeIP(request.ip))) return;
    reply.log.info({ req: request, res: reply, responseTime }, 'request completed');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode;
    const route = request.routeOptions?.url;
    if (error == null && status < 400 && route !== undefined && PROBE_ROUTES.has(route)) return;
    const sampled = isSampledRefusal(status, route) || (status >= 400 && refusedAtWill.has(request));
    if (sampled && !this.sampler.logs(normalizeIP(request.ip))) return;
    if (error != null) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
