import { isKeyNotFound, type CredenceError } from '../../../domain/errors.ts';

/** How often a key refused as missing is looked for again by `missing` (the Retry-After /readyz answers). */
export const MISSING_LOOKED_FOR_AGAIN_MS = 5_000;

/**
 * Whether a PKI signing key (a CA's, an OCSP responder's) was last found missing from the Secure Environment, as
 * signing-keys.ts keeps it for the Enrolment Function's and the Registrar's (review 332: a CA key deleted from the
 * token while the service ran left /readyz at 200). `use` runs a call with the key: its `not_found` is thrown as the
 * refusal `refusal` makes (a Secure Environment fault naming the key's record and remedy) and kept until a use goes
 * through again. `missing` answers the refusal kept; it looks for the key again (`look`, a describe) at most every
 * MISSING_LOOKED_FOR_AGAIN_MS, so that a probe costs no Secure Environment call while the key is there, and at most
 * one every few seconds while it is not.
 */
export class KeyPresence {
  #refused: { readonly refusal: CredenceError; lookedAt: number } | undefined;
  // On the monotonic clock: a wall clock stepped back would keep a key from being looked for again (review 163).
  readonly #monotonic = () => performance.now();

  constructor(
    private readonly handle: () => string,
    private readonly refusal: (handle: string) => CredenceError,
    private readonly look: (handle: string) => Promise<unknown>,
  ) {}

  async use<T>(call: () => Promise<T>): Promise<T> {
    const handle = this.handle();
    try {
      const result = await call();
      this.#refused = undefined;
      return result;
    } catch (error) {
      if (!isKeyNotFound(error, handle)) throw error;
      const refusal = this.refusal(handle);
      this.#refused = { refusal, lookedAt: this.#monotonic() };
      throw refusal;
    }
  }

  /** The key was replaced (an OCSP signer issued anew): nothing of the one gone is kept. */
  forget(): void {
    this.#refused = undefined;
  }

  async missing(): Promise<CredenceError | undefined> {
    const entry = this.#refused;
    if (entry === undefined) return undefined;
    if (this.#monotonic() - entry.lookedAt < MISSING_LOOKED_FOR_AGAIN_MS) return entry.refusal;
    // Timed before the look: probes meanwhile answer the refusal rather than look too. Only a key found clears it;
    // any other failure (the token away) keeps it, and the readiness check of the token itself says that.
    entry.lookedAt = this.#monotonic();
    const found = await this.look(this.handle()).then(
      () => true,
      () => false,
    );
    if (found && this.#refused === entry) this.#refused = undefined;
    return this.#refused?.refusal;
  }
}
