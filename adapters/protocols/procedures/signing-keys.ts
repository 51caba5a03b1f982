import { isCredenceError, isKeyNotFound, secureEnvironmentUnavailable, type CredenceError } from '../../../domain/errors.ts';
import { type KeyHandle, type OwnedSecureEnvironment } from '../../../domain/ports/index.ts';
import { discardNewKey } from './discard-new-key.ts';
import type { InfrastructureOptions } from './infrastructure-options.ts';

/** The Enrolment Function's and the Registrar CSE's signing keys, with the public keys devices pin. */
export interface SigningKeys {
  readonly kind: 'ed25519' | 'p256';
  readonly ef: KeyHandle;
  readonly registrar: KeyHandle;
  readonly efPublicKey: Uint8Array;
  readonly registrarPublicKey: Uint8Array;
  /**
   * The infrastructure's Secure Environment as the Enrolment Function and the Registrar use it: a signing key gone
   * from it is `signingKeyMissing`, naming the key, rather than a bare `not_found` (a 500 naming nothing).
   */
  readonly se: OwnedSecureEnvironment;
  /**
   * Why a signing key cannot be used now (GET /readyz): the `signingKeyMissing` or `signingKeyUnsound` its last use
   * through `se` met, until a use of it goes through again; undefined when none is refused. While one is, it is looked for again (a
   * `describe`) at most every MISSING_LOOKED_FOR_AGAIN_MS: an instance its load balancer stopped sending devices to
   * gets no request to find it back. None refused: no Secure Environment call.
   */
  missing(): Promise<CredenceError | undefined>;
}

const INFRA = 'infrastructure';

/** Each signing key's purpose in keys.db (stream `infrastructure`), with what it is called and the reason it is missing under. */
const PURPOSES = {
  'ef-signing': { name: "Enrolment Function's signing key", reason: 'enrolment_function_signing_key_missing' },
  'registrar-signing': { name: "Registrar CSE's signing key", reason: 'registrar_signing_key_missing' },
} as const;
type Purpose = keyof typeof PURPOSES;

/**
 * A signing key keys.db records and the Secure Environment does not hold (review 162: deleted from the token behind
 * Credence's back). A `secure_environment_unavailable` (503 while serving, a refused start): the key is the
 * service's own, not the caller's to mend, and comes back with the token the folder belongs with. No new key is made
 * in its place, now or at a start: devices pin its public key, and would refuse every answer signed by another.
 */
export const signingKeyMissing = (purpose: Purpose, handle: string): CredenceError =>
  secureEnvironmentUnavailable(
    PURPOSES[purpose].reason,
    `the ${PURPOSES[purpose].name} ${handle}, recorded in keys.db (stream ${INFRA}, purpose ${purpose}), is not in the service's Secure Environment. ` +
      "With a PKCS#11 token (docs/hsm.md): check that the service is given the folder's own (CREDENCE_SECURE_ENVIRONMENT, or the --config file); " +
      'if the key was deleted there, restore the token from a backup that holds it. With the embedded Secure Environment: restore the ' +
      'Secure Environment files that belong with this keys.db. No new key is made in its place: devices pin its public key',
  );

/**
 * A signing key the token holds in a state Credence did not leave it in (`token_integrity`: its public half deleted,
 * an object planted under its handle): unusable as surely as a missing one, so refused and reported alike (review
 * 166: /readyz looked at `not_found` only and stayed ready), named with its record; `cause` says what is wrong and
 * what mends it. The reason stays `token_integrity`, the one a public answer carries (the handle is in the log only).
 */
export const signingKeyUnsound = (purpose: Purpose, handle: string, cause: CredenceError): CredenceError =>
  secureEnvironmentUnavailable(
    'token_integrity',
    `the ${PURPOSES[purpose].name} ${handle}, recorded in keys.db (stream ${INFRA}, purpose ${purpose}), cannot be used: ${cause.message}. ` +
      'No new key is made in its place: devices pin its public key',
  );

const isTokenIntegrity = (error: unknown): error is CredenceError =>
  isCredenceError(error, 'secure_environment_unavailable') && error.problem.code === 'secure_environment_unavailable' && error.problem.reason === 'token_integrity';

/** How often a signing key refused as missing is looked for again by `missing` (the Retry-After /readyz answers). */
const MISSING_LOOKED_FOR_AGAIN_MS = 5_000;

/**
 * `se`, with a `not_found` of one of `keys` (handle to purpose) said as `signingKeyMissing` and a `token_integrity` as
 * `signingKeyUnsound`, every other call as it is; and `missing`, what the last use of each key found (SigningKeys.missing).
 */
const namingSigningKeys = (se: OwnedSecureEnvironment, keys: ReadonlyMap<string, Purpose>): Pick<SigningKeys, 'se' | 'missing'> => {
  // On the monotonic clock: a wall clock stepped back would keep a key from being looked for again (review 163).
  const monotonic = () => performance.now();
  /** The keys whose last use found them missing, with that refusal and when they were last looked for. */
  const refused = new Map<KeyHandle, { readonly refusal: CredenceError; lookedAt: number }>();
  const named = <T>(handle: KeyHandle, call: () => Promise<T>): Promise<T> =>
    call().then(
      (result) => {
        refused.delete(handle);
        return result;
      },
      (error: unknown) => {
        const purpose = keys.get(handle);
        if (purpose === undefined) throw error;
        const refusal = isKeyNotFound(error, handle) ? signingKeyMissing(purpose, handle) : isTokenIntegrity(error) ? signingKeyUnsound(purpose, handle, error) : undefined;
        if (refusal === undefined) throw error;
        refused.set(handle, { refusal, lookedAt: monotonic() });
        throw refusal;
      },
    );
  // What a signing key is used for: signing, and describing it (its fingerprint, the public key devices pin).
  const wrapped: OwnedSecureEnvironment = Object.freeze({
    ...se,
    describe: (handle) => named(handle, () => se.describe(handle)),
    sign: (handle, message) => named(handle, () => se.sign(handle, message)),
  });
  const missing = async (): Promise<CredenceError | undefined> => {
    for (const [handle, entry] of refused) {
      if (monotonic() - entry.lookedAt < MISSING_LOOKED_FOR_AGAIN_MS) return entry.refusal;
      // Timed before the look: probes meanwhile answer the refusal rather than look too. Any other failure (the token
      // away) keeps the refusal, and the readiness check of the token itself says that.
      entry.lookedAt = monotonic();
      await wrapped.describe(handle).catch(() => undefined);
      const still = refused.get(handle);
      if (still !== undefined) return still.refusal;
    }
    return undefined;
  };
  return { se: wrapped, missing };
};

/** Reuses the signing keys of earlier runs (devices pin their public keys), making each only the first time. */
export const openSigningKeys = async (o: InfrastructureOptions): Promise<SigningKeys> => {
  const kind = o.signingKind ?? 'ed25519';
  const key = async (purpose: Purpose): Promise<KeyHandle> => {
    const [existing] = o.registry.live(INFRA, purpose);
    if (existing !== undefined) return existing as KeyHandle;
    const handle = await o.se.generate(kind, { usage: 'sign' });
    try {
      o.registry.register(INFRA, handle, purpose);
    } catch (error) {
      // Unbound, the next start would make another: this one is destroyed, or owed (review 53).
      throw await discardNewKey(o.se, o.registry, { stream: INFRA, handle, purpose }, o.engine.clock.now(), error);
    }
    return handle;
  };
  const ef = await key('ef-signing');
  const registrar = await key('registrar-signing');
  const { se, missing } = namingSigningKeys(
    o.se,
    new Map<string, Purpose>([
      [ef, 'ef-signing'],
      [registrar, 'registrar-signing'],
    ]),
  );
  // Read at every start: one gone is refused here, naming it, rather than at the first device that needs it.
  const pub = async (h: KeyHandle) => (await se.describe(h)).publicKey!;
  return { kind, ef, registrar, efPublicKey: await pub(ef), registrarPublicKey: await pub(registrar), se, missing };
};
