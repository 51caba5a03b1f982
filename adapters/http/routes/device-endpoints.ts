import { isIP, isIPv4, SocketAddress } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { isCredenceError } from '../../../domain/errors.ts';
import { concealedRefusal } from '../../../domain/protocols/protocol.ts';
import type { Credence } from '../../runtime/index.ts';
import type { ServiceContext } from '../context.ts';
import { HELLO_FLOOR_DEFAULT_MS } from '../service-limits-config.ts';
import { asDeviceAnswer } from './device-step-faults.ts';
import { normalizeIP } from '@fastify/rate-limit';
import { decoyHelloSamplerOf } from '../decoy-hello-sampling.ts';

type Endpoints = Awaited<ReturnType<Credence['security']>>['endpoints'];

/**
 * The Enrolment Function and Registrar CSE endpoints the device routes call, shared by both route modules: opened
 * when the routes are registered, so at server build (the keys of runs that died with the last process are swept at
 * start, and a Secure Environment or store that cannot open fails the start instead of the first device request).
 * Each request asks the instance again: it shares the one opening, or opens again if that failed meanwhile.
 * Without a Secure Environment (a server built for the other routes only) nothing is opened, and a device
 * request fails as `security()` does.
 */
export const openDeviceEndpoints = async ({ credence }: ServiceContext): Promise<() => Promise<Endpoints>> => {
  if (credence.hasSecurity) await credence.security();
  return async () => (await credence.security()).endpoints;
};

/**
 * Answers a device message, logging at info the real reason behind a refusal kept from the peer (`concealedRefusal`):
 * told what a failed proof gets (`bad_mac`) at a provisioning auth or an association finish whose credential ended
 * during the run (seeds 002 and 004 unobservability). A hello, association or provisioning, is not refused but
 * answered with a decoy challenge, logged by its route (`logDecoyChallenge`). The device is not to learn that its credential was revoked or has
 * expired, but its operator must be able to. The log line's `msg` names the message and what it was told
 * (`auth refused as bad_mac`, `finish refused as bad_mac`). A refusal names fingerprints and
 * ids, never secret material (domain/errors.ts). Any other refusal with a cause is logged at warn with it
 * (`logRefusalCause`), and a `validation` not about the device's message, or the Secure Environment's ownership check
 * (`unauthorised`, naming a key handle), is answered as the service's fault, 500 with no detail, logged at error by
 * the error handler (device-step-faults.ts). The answers, and the work done before
 * them, are as they were otherwise: only what goes to the log, and that status, differ.
 */
export const answerDevice = async <T>(log: FastifyBaseLogger, answer: () => Promise<T>): Promise<T> => {
  try {
    return await answer();
  } catch (error) {
    logConcealed(log, error);
    logRefusalCause(log, error);
    throw asDeviceAnswer(error);
  }
};

/**
 * Settles as `answer` does, answer or refusal, but no sooner than `floorMs` after the request was received
 * (`elapsedMs`, the milliseconds since then: helloFloor counts them from the handler's start), so that how long a
 * hello's lookups took does not tell a stranger whether the ids it names exist or how much they have recorded (review 70: a real id not yet in the hello memo is rebuilt from
 * its whole stream, an unknown one is one empty read). The time left is waited on a timer: the event loop serves
 * other requests meanwhile, and the connection is held no longer than the floor (the per-address rate limit and
 * connection bounds count it as before). With a floor of 0, or an answer that took longer, nothing waits; such an
 * answer's time still shows its lookups' (docs/service.md).
 */
export const answerNoSoonerThan = async <T>(floorMs: number, elapsedMs: () => number, answer: () => Promise<T>): Promise<T> => {
  try {
    return await answer();
  } finally {
    // Timers may fire a little early (their delay is whole milliseconds): checked again until the floor is past.
    for (let left = floorMs - elapsedMs(); left > 0; left = floorMs - elapsedMs()) await sleep(Math.ceil(left));
  }
};

/**
 * The hello floor (`limits.helloFloorMs`; `start.ts` passes the configured limits whole) for a route's answers,
 * counted from when the handler starts: once the whole body was read and parsed, nothing that depends on the ids it
 * names. Not from when Fastify routed the request (its reply's `elapsedTime`), before its body was read: a client that
 * sent its body later than the floor then got no floor at all, the time from its last byte to the answer being the
 * lookups' again (review 75), as a device on a slow uplink would. A client can time only from its last byte, which is
 * never later than the handler's start.
 */
export const helloFloor = ({ limits }: Pick<ServiceContext, 'limits'>) => {
  const floorMs = limits.helloFloorMs ?? HELLO_FLOOR_DEFAULT_MS;
  return <T>(answer: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    return answerNoSoonerThan(floorMs, () => performance.now() - started, answer);
  };
};

/**
 * Logs at info the real reason behind `error` if it is a refusal kept from the peer (`concealedRefusal`), under a
 * `msg` naming the message and what the peer was told instead: `told`, or `refused as` the reason it was answered
 * (`refused as bad_mac`; for a hello `answered with a decoy challenge`,
 * adapters/protocols/shared/decoy.ts).
 */
export const logConcealed = (log: FastifyBaseLogger, error: unknown, told?: string): void => {
  const concealed = concealedRefusal(error);
  if (concealed === undefined) return;
  const message = concealed.step.slice(concealed.step.lastIndexOf('.') + 1);
  log.info({ step: concealed.step, reason: concealed.reason, detail: concealed.message }, `${message} ${told ?? `refused as ${concealed.told}`}`);
};

/**
 * The rate limit's window (`limits.rateLimitWindowMs`, which start.ts passes with the configured limits whole, as
 * `helloFloorMs`), the window of the decoy hello sampler as of the port's refusal sampler; the configuration's default
 * (service-limits-config.ts) on a server built with limits that do not name it.
 */
const rateLimitWindowOf = (limits: ServiceContext['limits']): number => limits.rateLimitWindowMs ?? 60_000;

/**
 * What names the credential a hello claimed, as the store resolves it: a provisioning hello's `nodeId` and bootstrap
 * `fingerprint`, an association hello's `registreeId`, `associationId` and credential `fingerprint`. Ids and public
 * fingerprints, never key material; read from a body its responder parsed (the hello's schema bounds each).
 */
const helloCredential = (body: unknown): Record<string, string> => {
  const hello = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const named: Record<string, string> = {};
  for (const field of ['nodeId', 'registreeId', 'associationId'] as const) {
    const value = hello[field];
    if (typeof value === 'string') named[field] = value;
  }
  const claimed = hello['bootstrap'] ?? hello['credential'];
  const fingerprint = typeof claimed === 'object' && claimed !== null ? (claimed as Record<string, unknown>)['fingerprint'] : undefined;
  if (typeof fingerprint === 'string') named['fingerprint'] = fingerprint;
  return named;
};

/**
 * Logs a hello's concealed refusal, answered with a decoy challenge (`logConcealed`), with the credential the hello
 * named and its address, through the port's decoy hello sampler (decoy-hello-sampling.ts, review 448): a stranger's
 * made-up credential (`unknown_credential`) sampled per address, a credential the store knows logged whole the first
 * time in a window and counted after, neither drawing on the refusals' budget (review 448: 20 404s from a device's
 * address hid its revoked credential's line). Each decoy hello is counted, `credence_decoy_hellos_total`, where
 * /metrics is not public (a probe port set). The hello's own `request completed` is written as any route's.
 */
export const logDecoyChallenge = (request: FastifyRequest, refusal: unknown, context: Pick<ServiceContext, 'metrics' | 'limits'>): void => {
  const concealed = concealedRefusal(refusal);
  if (concealed === undefined) return;
  // Not on a /metrics this port serves to anyone (no probe port): a stranger sending a hello with a device's public
  // Node-ID and fingerprint would read there whether its credential was revoked (seeds 002/004, SER-001; review 33).
  if (!request.server.hasRoute({ method: 'GET', url: '/metrics' })) context.metrics.decoyHello(concealed.step, concealed.reason);
  const ip = request.ip as string | undefined;
  const credential = helloCredential(request.body);
  const hello = { step: concealed.step, reason: concealed.reason, address: ip === undefined ? UNKNOWN_PEER : normalizeIP(ip), credential };
  if (!decoyHelloSamplerOf(request.server, rateLimitWindowOf(context.limits)).logs(hello)) return;
  logConcealed(request.log.child({ ...credential, remoteAddress: helloPeer(request) }), refusal, 'answered with a decoy challenge');
};

/**
 * Logs at warn a refusal told to a device that carries a `cause` and conceals nothing (`concealedRefusal`, logged at
 * info): e.g. `unknown_session` whose cause is the Secure Environment's `not_found` of the service's own ephemeral
 * key, lost with a token session (agree-or-refuse.ts). Without it the cause, kept from the answer, reached no log,
 * and an operator saw devices start anew without learning why. The cause names handles and the token, never key
 * material (domain/errors.ts); its message, with its own causes, is the line's `err`.
 */
const logRefusalCause = (log: FastifyBaseLogger, error: unknown): void => {
  if (!isCredenceError(error, 'protocol') || error.problem.code !== 'protocol' || concealedRefusal(error) !== undefined) return;
  if (error.cause === undefined) return;
  const { step, reason } = error.problem;
  const message = step.slice(step.lastIndexOf('.') + 1);
  log.warn({ step, reason, err: error.cause }, `${message} refused as ${reason}, for a cause of the service's`);
};

/**
 * The peer of a hello whose connection's address is not known (`request.ip` absent: the socket closed before the
 * request was read). A bucket of its own, not an address: never the bucket of in-process callers, who give no peer
 * (session-table.ts `Claim.peer`), so such hellos cannot evict their runs, nor any real address's.
 */
export const UNKNOWN_PEER = 'address-unknown';

/**
 * Where a hello came from, for its responder's session table (`Claim.peer`, SER-001): hellos from one peer never
 * evict a run begun from another. The client's address as Fastify reports it (the connection's, or what a proxy named in
 * the `trustProxy` setting forwarded for, an IP address: trust-proxy.ts refuses anything else; a client outside the
 * named proxies' addresses cannot choose it), in one form per address: IPv6 in its canonical text, and an
 * IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, how a dual-stack listener reports an IPv4 client) as the IPv4 address
 * itself, so that one client gets one allowance whichever way it connects (found in review: it got two). Not grouped
 * by IPv6 prefix as the rate limit groups it: a device's neighbours in its /64 would share its bound, and the
 * table-wide bound with that rate limit already caps what one prefix can hold.
 */
export const helloPeer = (request: Pick<FastifyRequest, 'ip'>): string => peerAddress(request.ip as string | undefined);

const MAPPED_IPV4 = '::ffff:';
/** An interface name is at most 16 bytes on Linux (IFNAMSIZ); a zone index past this is cut, not kept whole. */
const MAX_ZONE_CHARS = 1 + 64;

/** `ip` as `helloPeer` keys it: its one form, or `UNKNOWN_PEER` when there is none (absent, or not an IP address). */
export const peerAddress = (ip: string | undefined): string => {
  const family = ip === undefined ? 0 : isIP(ip);
  if (family === 0) return UNKNOWN_PEER;
  if (family === 4) return ip!;
  // Canonical text (lower case, zeros compressed, a mapped address's tail dotted) before the prefix is looked at:
  // `::FFFF:7f00:1` is `::ffff:127.0.0.1` too. The zone index is kept (SocketAddress drops it): one link-local address
  // on two interfaces is two neighbours, not one.
  const zoneAt = ip!.indexOf('%');
  const zone = zoneAt === -1 ? '' : ip!.slice(zoneAt, zoneAt + MAX_ZONE_CHARS);
  const canonical = new SocketAddress({ address: zoneAt === -1 ? ip! : ip!.slice(0, zoneAt), family: 'ipv6' }).address;
  const tail = canonical.startsWith(MAPPED_IPV4) ? canonical.slice(MAPPED_IPV4.length) : undefined;
  return tail !== undefined && isIPv4(tail) ? tail : `${canonical}${zone}`;
};
