import { chainValidity } from '../../domain/x509/issuance/index.ts';
import type { CaId, IssuingCa } from '../../domain/x509/issuing-ca.ts';

/**
 * When each CA's chain ends (its certificate or any above it: `chainValidity`), and which of them this process has
 * retired. A CA past that end is retired, not fatal (review 82): it can certify nothing a relying party would
 * validate (RFC 5280 6.1.3 (a)(2)), so it gets no OCSP responder certificate and publishes no CRL, while the
 * service's other CAs go on. Each is told once per process, when first found ended.
 */
export class EndedCas {
  readonly #endsAt = new Map<string, number>();
  readonly #retired = new Set<string>();
  readonly #onEnded: ((caId: CaId, endedAt: Date) => void) | undefined;

  constructor(cas: readonly IssuingCa[], onEnded?: (caId: CaId, endedAt: Date) => void) {
    for (const ca of cas) this.#endsAt.set(ca.id, chainValidity(ca).notAfter.getTime());
    this.#onEnded = onEnded;
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
