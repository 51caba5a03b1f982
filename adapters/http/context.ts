import type { FastifyInstance, FastifyBaseLogger, RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Credence, IssuingCa, LiveRuntime, PkiRevocation } from '../runtime/index.ts';
import type { AccessControl, Principal, Role } from './auth/access-control.ts';
import type { ServiceMetrics } from './metrics.ts';
import type { SecureEnvironmentUnavailable } from './routes/secure-environment-readiness.ts';

export type { Principal, Role };

/** The Fastify instance every route module registers on: zod schemas validate, serialise and document each route. */
export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

/**
 * Who may call a route: a list of roles (a bearer token of one of them), `public` (no token: health, OpenAPI,
 * docs), or `device` (no bearer token: devices authenticate inside the provisioning and association protocols).
 */
export type RouteAccess = readonly Role[] | 'public' | 'device';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Required on every route; the access hook refuses to start a server with a route that lacks it. */
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** The authenticated caller of a role-protected route (undefined on `public` and `device` routes). */
    principal?: Principal;
  }
}

/** Bounds of the service (SER-001), from the configuration. */
export interface ServiceLimits {
  readonly bodyLimitBytes: number;
  readonly maxSseStreamsPerPrincipal: number;
  /** Canonical streams open at once, all principals together. */
  readonly maxSseStreams: number;
  /** Pseudonymised streams open at once, all tenants together: integrators alone read them (review 229). */
  readonly maxPseudonymisedStreams: number;
  /** Resolutions of one pseudonym one auditor may record (POST /v1/pseudonyms/resolutions). */
  readonly maxResolutionsPerPseudonym: number;
  /** Most lifecycle events (fact claims aside) of one entity a whole-stream read answers in one request (routes/entity-bound.ts). */
  readonly maxEntityEvents: number;
  /** Most records (fact claims included) such a read takes; 10 x maxEntityEvents when absent (`entityRecordBound`). */
  readonly maxEntityRecords?: number;
  readonly sseHeartbeatMs: number;
  /** Bytes queued on one SSE socket beyond which the stream pauses; a client still behind after `sseStallMs` is dropped. */
  readonly sseHighWaterBytes: number;
  readonly sseStallMs: number;
  /** /readyz fails when a live projection is more than this many events behind. */
  readonly readyMaxLagEvents: number;
  /** /readyz fails when a live component has been failing this long (ms); its default when absent. */
  readonly readyMaxFailingMs?: number;
  /** Least time in which a device hello is answered (routes/device-endpoints.ts `helloFloor`); its default when absent. */
  readonly helloFloorMs?: number;
  /** The rate limit's window (ms), which the device routes' decoy hello sampler shares; its default when absent. */
  readonly rateLimitWindowMs?: number;
}

/** Everything a route module needs, built once by `startService` (adapters/http/start.ts). */
export interface ServiceContext {
  readonly credence: Credence;
  readonly live: LiveRuntime;
  readonly access: AccessControl;
  readonly metrics: ServiceMetrics;
  readonly limits: ServiceLimits;
  /** Aborted when graceful shutdown begins: long-lived responses (SSE) end with a retry hint. */
  readonly shutdown: AbortSignal;
  /**
   * CRLs and OCSP of the issuing CAs (issue 13, routes/pki.ts): set once the service listens (full CRLs name the
   * URL it listens on); undefined before.
   */
  readonly pkiRevocation?: { current: PkiRevocation | undefined };
  /**
   * The issuing CAs loaded at start (issue 13) and the public URL their certificates point at (`publicUrl`; until the
   * service listens on a port given as 0, the configured one).
   */
  readonly pki?: { readonly cas: readonly IssuingCa[]; readonly baseUrl: string };
  /** Whether the service's Secure Environment can be used, for /readyz (routes/secure-environment-readiness.ts); absent: nothing to check. */
  readonly secureEnvironmentUnavailable?: SecureEnvironmentUnavailable;
}

/** A route module: registers its routes, each with `config.access` and zod schemas for params, query, body, responses. */
export type RouteModule = (app: App, context: ServiceContext) => void | Promise<void>;
