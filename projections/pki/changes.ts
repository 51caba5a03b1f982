/**
 * A revocation the projection has just recorded, told from inside its batch's transaction, which may still roll
 * back: a wake-up, not a fact. Listeners read the tables as committed (adapters/runtime/pki-committed.ts).
 */
export interface RevocationNotice {
  readonly caId: string;
  readonly serialNumber: string;
}

export interface PkiListener {
  /** A certificate of `caId` was revoked: cached OCSP answers about it are stale, a CRL is due. */
  revoked(notice: RevocationNotice): void;
  /**
   * A rotation of the credential holding a certificate of `caId` began or was abandoned: cached OCSP answers about it
   * end at the wrong time (a `good` is valid no later than the overlap's end, review 221). No CRL is due. Told too when
   * the node, App-ID or bootstrap credential the certificate follows ended (review 306): no `good` may be kept for it.
   */
  rotationChanged?(notice: RevocationNotice): void;
  /** The read model was emptied for a rebuild: everything derived from it is stale. */
  reset(): void;
}

/**
 * Wake-ups from the PKI projection to whoever serves from it (the CRL publisher, the OCSP responder's cache). A
 * notice says what changed, not the state: listeners read the tables, which stay the one place the state is.
 * Listener failures are contained: a projection never fails because a listener did.
 */
export class PkiChanges {
  readonly #listeners = new Set<PkiListener>();

  subscribe(listener: PkiListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  revoked(notice: RevocationNotice): void {
    for (const l of this.#listeners) {
      try {
        l.revoked(notice);
      } catch {
        // A listener's own fault, reported by it; the event is applied regardless.
      }
    }
  }

  rotationChanged(notice: RevocationNotice): void {
    for (const l of this.#listeners) {
      try {
        l.rotationChanged?.(notice);
      } catch {
        // As above.
      }
    }
  }

  reset(): void {
    for (const l of this.#listeners) {
      try {
        l.reset();
      } catch {
        // As above.
      }
    }
  }
}
