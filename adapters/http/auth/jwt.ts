import { errors, importJWK, jwtVerify, type CryptoKey } from 'jose';
import { z } from 'zod';
import { toBase64url } from '../../../domain/crypto/index.ts';
import { unauthorised } from '../../../domain/errors.ts';
import { RecentlyUsed } from './recently-used.ts';
import { ROLES } from './role.ts';

/** `iss` and `aud` every token carries and every verification checks. */
export interface JwtSettings {
  readonly issuer: string;
  readonly audience: string;
}

export interface JwtClaims {
  readonly sub: string;
  readonly role: (typeof ROLES)[number];
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
}

/** A signer whose key never leaves the Secure Environment: it signs the JWS signing input (RFC 7515 §5.1). */
export interface JwsSigner {
  readonly kid: string;
  sign(input: Uint8Array): Promise<Uint8Array>;
}

/** The JWS segments: JSON as its UTF-8 bytes, base64url as everywhere else in Credence. */
const b64u = (value: Uint8Array | string): string => toBase64url(typeof value === 'string' ? new TextEncoder().encode(value) : value);

/**
 * A compact JWS (RFC 7515 §7.1) over the claims, EdDSA with Ed25519 (RFC 8037 §3.1). Built here rather than with
 * jose's SignJWT because the private key is a Secure Environment handle: jose would need the key bytes.
 */
export const signJwt = async (signer: JwsSigner, args: JwtSettings & { readonly claims: JwtClaims }): Promise<string> => {
  const header = b64u(JSON.stringify({ alg: 'EdDSA', typ: 'JWT', kid: signer.kid }));
  const payload = b64u(JSON.stringify({ iss: args.issuer, aud: args.audience, ...args.claims }));
  const input = `${header}.${payload}`;
  const signature = await signer.sign(new TextEncoder().encode(input));
  return `${input}.${b64u(signature)}`;
};

/** The verification key of an Ed25519 public key (32 bytes), for `verifyJwt`. */
export const importVerificationKey = async (publicKey: Uint8Array): Promise<CryptoKey> =>
  (await importJWK({ kty: 'OKP', crv: 'Ed25519', x: b64u(publicKey) }, 'EdDSA')) as CryptoKey;

/** Far above any token we issue (a few hundred characters): a longer header is refused before any parsing. */
export const MAX_TOKEN_CHARS = 2_048;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/**
 * Small: issuer and verifier share a clock, this only absorbs rounding to whole seconds. A token's `exp` is checked
 * with it here, its `iat` by the refusal rule (token-refusal.ts: issued in the future).
 */
export const CLOCK_TOLERANCE_SECONDS = 5;

const Claims = z.object({
  sub: z.string().min(1).max(128),
  role: z.enum(ROLES),
  jti: z.string().regex(/^tok_[A-Za-z0-9_-]{22}$/),
  iat: z.number().int(),
  exp: z.number().int(),
});

/** Why a token was refused, in words safe to return: never the token or its claims. */
const reasonOf = (error: unknown): string => {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (error instanceof errors.JWTClaimValidationFailed) return `claim ${error.claim} ${error.reason === 'check_failed' ? 'does not match' : 'missing or invalid'}`;
  return 'malformed';
};

/** The verification key a token's `kid` names, if it names one of ours (the current signing key or a retired one). */
export type VerificationKeys = (kid: string) => Promise<CryptoKey | undefined>;

/** What verified a token: its claims and the `kid` of the key whose signature it carries. */
export interface VerifiedJwt {
  readonly claims: JwtClaims;
  readonly kid: string;
}

/** Thrown by the key lookup inside jose: the token names no key of ours. */
class UnknownSigningKey extends Error {}
/** The key lookup itself failed (the Secure Environment, access.db): a fault of this service, not of the token. */
class KeyLookupFailed extends Error {}
const Kid = z.string().min(1).max(128);

/**
 * The claims of a token this service issued and that is still within its lifetime: signature (EdDSA only) by the key
 * its `kid` names, `typ`, `iss`, `aud`, `exp`, `iat` and `jti` checked by jose, our claim types by zod. Throws
 * `unauthorised` otherwise.
 */
export const verifyJwt = async (token: string, keys: VerificationKeys, args: JwtSettings & { readonly now: Date }): Promise<VerifiedJwt> => {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS || !COMPACT_JWS.test(token)) throw unauthorised('bearer token', 'malformed');
  // One spelling per token (RFC 7515 2: base64url without padding, the unused bits of the last character zero): the
  // other spellings of a token, which decode alike, would each take a place in the caches below (found in review).
  if (!token.split('.').every((part) => Buffer.from(part, 'base64url').toString('base64url') === part)) throw unauthorised('bearer token', 'malformed');
  let payload: unknown;
  let kid = '';
  const keyOf = async (header: { readonly kid?: unknown }): Promise<CryptoKey> => {
    const named = Kid.safeParse(header.kid);
    let key: CryptoKey | undefined;
    try {
      key = named.success ? await keys(named.data) : undefined;
    } catch (error) {
      throw new KeyLookupFailed('the token signing key could not be read', { cause: error });
    }
    if (key === undefined) throw new UnknownSigningKey();
    kid = named.data!;
    return key;
  };
  try {
    ({ payload } = await jwtVerify(token, keyOf, {
      algorithms: ['EdDSA'],
      typ: 'JWT',
      issuer: args.issuer,
      audience: args.audience,
      requiredClaims: ['exp', 'iat', 'jti', 'sub'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: args.now,
    }));
  } catch (error) {
    // An HSM or database failure is not a bad token: it surfaces as the service's fault (500), and spends no
    // caller's refused-token budget (found in review).
    if (error instanceof KeyLookupFailed) throw error.cause;
    throw unauthorised('bearer token', error instanceof UnknownSigningKey ? 'unknown signing key' : reasonOf(error));
  }
  const claims = Claims.safeParse(payload);
  if (!claims.success) throw unauthorised('bearer token', 'claims of the wrong shape');
  return { claims: claims.data, kid };
};

/** Verified tokens kept by `jwtVerifier`: far more than the live tokens of a deployment, a few MiB at most. */
const VERIFIED_KEPT = 1_024;

/**
 * `verifyJwt` with its outcome kept for tokens seen recently: an Ed25519 verification (jose, WebCrypto) cost more
 * than the rest of an API request. What a token's bytes prove does not change once verified (signature, `typ`,
 * `iss`, `aud`, claim types; no token we issue has `nbf`, and one that had a future `nbf` would have failed and
 * not been kept). What changes with time is checked on every call: the expiry here, as jose checks it, and the
 * revocation by the caller (access.db). Only tokens whose signature and claims verified are kept (one the caller
 * then refuses, revoked say, may be: what it refuses is checked at every call).
 */
export const jwtVerifier = (keys: VerificationKeys, settings: JwtSettings): ((token: string, now: Date) => Promise<VerifiedJwt>) => {
  const verified = new RecentlyUsed<string, VerifiedJwt>(VERIFIED_KEPT);
  return async (token, now) => {
    const kept = verified.get(token);
    if (kept === undefined) {
      const outcome = await verifyJwt(token, keys, { ...settings, now });
      verified.set(token, outcome);
      return outcome;
    }
    // jose's own test (jwt_claims_set.js): expired when exp <= now - tolerance, in whole seconds.
    if (kept.claims.exp <= Math.floor(now.getTime() / 1000) - CLOCK_TOLERANCE_SECONDS) {
      verified.delete(token);
      throw unauthorised('bearer token', 'expired');
    }
    return kept;
  };
};
