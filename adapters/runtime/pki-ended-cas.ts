import { chainValidity } from '../../domain/x509/issuance/index.ts';
import type { CaId, IssuingCa } from '../../domain/x509/issuing-ca.ts';
import { DEFAULT_CREDENTIAL_LIFETIME_SECONDS } from '../protocols/procedures/index.ts';

/**
 * How long before a CA stops certifying node credentials it is said to near its end: a month, time for an external root
 * to sign a renewal. It stops a credential's lifetime before its chain ends (review 118): a certificate lasts as long
 * as its credential and never outlives the chain (`ca_expires_first`).
 */
export const CA_END_WARNING_MS = 30 * 86_400_000;

/** When a CA nears its end: when its chain ends, and the last instant it can certify a node credential of the lifetime. */
export interface CaEnding {
  readonly endsAt: Date;
  readonly certifiesUntil: Date;
  readonly credentialLifetimeMs: number;
  /**
   * `certifiesUntil` has passed (review 231): the CA certifies no node credential now, its chain ending within a
   * credential's lifetime. Told apart so that no one is asked to renew "before" a date already past.
   */
  readonly certifiesNone: boolean;
  /** An intermediate is renewed through a CSR its root signs (`ca renew --csr-out`), a root in place. */
  readonly intermediate: boolean;
}

/** A lifetime in whole days when it is one, else in seconds. */
const lifetimeText = (ms: number): string => (ms % 86_400_000 === 0 ? `${ms / 86_400_000} days` : `${Math.round(ms / 1000)} s`);

/**
 * What a CA whose chain ends within a credential's lifetime of now is (review 231): the one sentence of the service's
 * log at start and of `ca install`'s warning. Public facts only: its id, its chain's end, the lifetime.
 */
export const certifiesNoCredentialNow = (caId: string, endsAt: Date, credentialLifetimeMs: number): string =>
  `CA ${caId} certifies no node credential now: each certificate lasts as long as its credential ` +
  `(${lifetimeText(credentialLifetimeMs)}) and none outlives the CA's chain, which ends at ${endsAt.toISOString()} ` +
  '(its certificate or one above it): a credential of that lifetime gets no certificate (certificate_not_issued, ca_expires_first)';

/** When the chain of `ca` ends, in ms: the earliest notAfter of its certificate and of every one above it. */
export const chainEndOf = (ca: Pick<IssuingCa, 'certificate' | 'chain'>): number => chainValidity(ca).notAfter.getTime();

/** A remotely provisioned credential's lifetime unless configured, in ms (the Infrastructure's default). */
export const DEFAULT_CREDENTIAL_LIFETIME_MS = DEFAULT_CREDENTIAL_LIFETIME_SECONDS * 1000;

/** When `ca`'s chain ends and the last instant it can certify a credential lasting `credentialLifetimeMs`, in ms. */
export const caInstants = (ca: Pick<IssuingCa, 'certificate' | 'chain'>, credentialLifetimeMs = DEFAULT_CREDENTIAL_LIFETIME_MS) => {
  const endsAt = chainEndOf(ca);
  return { endsAt, certifiesUntil: endsAt - credentialLifetimeMs };
};

/**
 * Why a CRL publisher signed and served nothing (review 85): the chain of CA `caId` ended at `endedAt` (rule
 * `ca_ended`: answered `410` as the CRL URLs of a retired CA are), or the publisher was stopped with its CA still live
 * (rule `publisher_stopped`: the service is stopping, answered `503` with Retry-After). Decided inside the publisher's
 * queued job, when a CRL's thisUpdate is fixed and again before one is handed out, so a request that queued before
 * the end, behind a tick or a slow HSM signature, gets no CRL signed or served after it.
 */
export class CrlNotSigned extends Error {
  constructor(
    readonly caId: string,
    readonly code: 'ca_ended' | 'publisher_stopped',
    readonly endedAt?: Date,
  ) {
    super(
      code === 'ca_ended'
        ? `CA ${caId}: no CRL is signed nor served after its chain ended at ${endedAt?.toISOString() ?? 'an unknown time'} (ca_ended)`
        : `CA ${caId}: its CRL publisher is stopped, no CRL is signed nor served (publisher_stopped)`,
    );
    this.name = 'CrlNotSigned';
  }

  /** The refusal at `now` for a publisher of CA `caId` whose chain ends at `endsAt`, stopped or not; none when it may sign. */
  static at(caId: string, endsAt: number, stopped: boolean, now: number): CrlNotSigned | undefined {
    if (now >= endsAt) return new CrlNotSigned(caId, 'ca_ended', new Date(endsAt));
    return stopped ? new CrlNotSigned(caId, 'publisher_stopped') : undefined;
  }
}

/**
 * When each CA's chain ends (its certificate or any above it: `chainValidity`), and which of them this process has
 * retired. A CA past that end is retired, not fatal (review 82): it can certify nothing a relying party would
 * validate (RFC 5280 6.1.3 (a)(2)), so it gets no OCSP responder certificate and publishes no CRL, while the
 * service's other CAs go on. Each is told once per process, when first found ended.
 */
export class EndedCas {
  readonly #endsAt = new Map<string, number>();
  readonly #intermediate = new Set<string>();
  readonly #retired = new Set<string>();
  /** What each CA was told of: near its last certificate, then certifying none (each once per process). */
  readonly #told = new Map<string, 'soon' | 'none'>();
  readonly #onEnded: ((caId: CaId, endedAt: Date) => void) | undefined;
  readonly #nearing: { readonly credentialLifetimeMs: number; readonly onEndingSoon: (caId: CaId, ending: CaEnding) => void } | undefined;

  constructor(
    cas: readonly IssuingCa[],
    onEnded?: (caId: CaId, endedAt: Date) => void,
    nearing?: { readonly credentialLifetimeMs: number; readonly onEndingSoon: (caId: CaId, ending: CaEnding) => void },
  ) {
    for (const ca of cas) {
      this.#endsAt.set(ca.id, chainEndOf(ca));
      if (ca.chain.length > 0) this.#intermediate.add(ca.id);
    }
    this.#onEnded = onEnded;
    this.#nearing = nearing;
  }

  /**
   * Tells, once per process, of a live CA within `CA_END_WARNING_MS` of the last instant it can certify a node
   * credential (its chain's end less a credential's lifetime): time to renew it (`credence ca renew`, docs/pki.md
   * "Renewing a CA"); and once more when that instant has passed (`certifiesNone`), at start or at the tick that finds
   * it so. A renewal takes effect at the next start, which tells again if it is still near.
   */
  warnIfEndingSoon(caId: CaId, now: number): void {
    const endsAt = this.#endsAt.get(caId);
    if (this.#nearing === undefined || endsAt === undefined || now >= endsAt) return;
    const { credentialLifetimeMs } = this.#nearing;
    const certifiesUntil = endsAt - credentialLifetimeMs;
    if (certifiesUntil - now > CA_END_WARNING_MS) return;
    const stage = certifiesUntil <= now ? 'none' : 'soon';
    const told = this.#told.get(caId);
    if (told === 'none' || told === stage) return;
    this.#told.set(caId, stage);
    const intermediate = this.#intermediate.has(caId);
    try {
      this.#nearing.onEndingSoon(caId, { endsAt: new Date(endsAt), certifiesUntil: new Date(certifiesUntil), credentialLifetimeMs, certifiesNone: stage === 'none', intermediate });
    } catch {
      // The sink must not stop the start or the tick.
    }
  }

  /** When the chain of CA `caId` ended, if it has by `now`; undefined for a live CA or one this service does not run. */
  endedAt(caId: string, now: number): Date | undefined {
    const endsAt = this.#endsAt.get(caId);
    return endsAt !== undefined && now >= endsAt ? new Date(endsAt) : undefined;
  }

  /** Retires `caId` if it has ended by `now`: true when it has (told the first time only). */
  retireIfEnded(caId: CaId, now: number): boolean {
    const endedAt = this.endedAt(caId, now);
    if (endedAt === undefined) return false;
    if (!this.#retired.has(caId)) {
      this.#retired.add(caId);
      try {
        this.#onEnded?.(caId, endedAt);
      } catch {
        // The sink must not stop the start.
      }
    }
    return true;
  }
}
