import type { StoredScope } from './stored-scope.ts';

/** What is kept of an issued token: never the token itself, which only its holder has. */
export interface TokenRecord {
  readonly tokenId: string;
  readonly subject: string;
  readonly role: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly issuedBy: string;
  /** The token it was issued with, through the service; absent for one issued on the command line. */
  readonly issuedWith?: string;
  /** The handle of the signing key that signed it. */
  readonly signedWith?: string;
  /** The stakeholders its event stream is limited to (an integrator's); absent: the whole fleet. */
  readonly scope?: StoredScope;
  /**
   * Its `scope` column does not read (the file damaged, or edited by hand): no scope is given, and whoever reads the
   * record must refuse the token rather than take it for one of the whole fleet. Listed so, to be revoked.
   */
  readonly scopeDamaged?: true;
  readonly revokedAt?: Date;
  readonly revokedBy?: string;
}

export interface TokenPage {
  readonly tokens: readonly TokenRecord[];
  /** Pass as `after` for the next page; absent on the last one. */
  readonly next?: string;
}

/** A token signing key, by its Secure Environment handle. */
export interface SigningKeyRecord {
  readonly handle: string;
  /** When it became the signing key; absent for the key of an access.db from before keys were rotated. */
  readonly since?: Date;
  /** When a newer key took over: it signs nothing more, and verifies the tokens it signed until they end. */
  readonly retiredAt?: Date;
  readonly retiredBy?: string;
}

/**
 * Whether a recorded token neither revoked nor expired is refused on every request all the same (the verifier's rule,
 * adapters/http/auth/token-refusal.ts, under the service's settings now): such a token is live for no count here.
 * `refused` is the rule; the rest is what access.db's counts judge in SQL alike, on the rows it can (review 166: run
 * in JavaScript on every live row, a subject's count took 400 ms at 99,000 tokens, inside the write transaction): a
 * row as this version writes it (a known role, both times as `toISOString` writes them, no scope) whose subject holds
 * no mark. Every other row is judged by `refused`.
 */
export interface TokenRefusalRule {
  readonly refused: (token: TokenRecord) => boolean;
  /** A token meant to live longer than this many seconds is refused (Infinity: none is, for its lifetime). */
  readonly maxTtlSeconds: number;
  /** The roles a record may name; another is damaged. */
  readonly roles: readonly string[];
  /** Lower-case ASCII texts one of which every refused subject holds, in ASCII letters of either case. */
  readonly subjectMarks: readonly string[];
}

/** Live tokens by a count's rule: how many, and when the last of them expires. */
export interface LiveTokens {
  readonly count: number;
  readonly lastExpiry?: Date;
}

/** Why `record` kept no record. */
export type RecordRefusal = 'issuer_revoked' | 'signing_key_retired' | 'subject_full';

export interface AccessRegistry {
  /** Every signing key kept, oldest first: the current one (no `retiredAt`) and the retired ones not destroyed yet. */
  signingKeys(): readonly SigningKeyRecord[];
  /** The handle of the key that signs new tokens, once one was made. */
  currentSigningKey(): string | undefined;
  /**
   * Keeps `handle` as the signing key unless there is one already (another process may have made one at the same
   * time); returns the handle of the current key.
   */
  claimSigningKey(handle: string, at: Date): string;
  /**
   * Makes `handle` the signing key and retires the one before (its tokens stay valid until they end). With
   * `withdraw`, in the same transaction, revokes every token a retired key signed and, down the chain, every token
   * issued with one (whatever key signed it): a token issued with a withdrawn key's token while the rotation ran
   * must not outlive it (found in review). `withdrawKey` (a key the Secure Environment no longer holds) revokes, the
   * same way, every token that one key signed. Returns the handles it retired and the token ids it revoked.
   */
  rotateSigningKey(
    handle: string,
    at: Date,
    by: string,
    options: { readonly withdraw: boolean; readonly withdrawKey?: string },
  ): { readonly retired: readonly string[]; readonly revoked: readonly string[] };
  /**
   * The tokens signed with the key neither expired at `now` nor revoked, nor `refused` (review 158): how many, and the
   * latest expiry among them, if any.
   */
  liveSignedWith(handle: string, now: Date, refused: TokenRefusalRule): LiveTokens;
  /** Forgets a retired key (once the Secure Environment destroyed it); the current key is never forgotten. */
  forgetSigningKey(handle: string): void;
  /**
   * Records an issued token, or nothing and says why: the token it was issued with (`issuedWith`) is revoked by then
   * (a revocation between the issuer's check and this insert must not let its child live; found in review), or the
   * key it was signed with (`signedWith`) is not the current signing key any more (rotated meanwhile: sign again),
   * or its subject holds `maxActiveForSubject` tokens live at `issuedAt` already (counted in the same transaction, so
   * issues racing in other processes cannot each see room for one more). A token `refused` holds no place (review
   * 158: refused on every request, it kept its subject from a token that works); absent, none is.
   */
  record(
    token: Omit<TokenRecord, 'revokedAt' | 'revokedBy'> & {
      readonly signedWith: string;
      readonly maxActiveForSubject: number;
      readonly refused?: TokenRefusalRule;
    },
  ): 'recorded' | RecordRefusal;
  find(tokenId: string): TokenRecord | undefined;
  /**
   * Revokes the token and every token issued with it, and with those, down the chain (a token's issuer revoked ends
   * what it issued). Undefined for an unknown id; else the ids revoked by this call (the first revocation of each is
   * kept: one revoked already is not in the list).
   */
  revoke(tokenId: string, at: Date, by: string, options?: { readonly alone?: boolean }): readonly string[] | undefined;
  list(args: { readonly limit: number; readonly after?: string; readonly includeExpired: boolean; readonly now: Date }): TokenPage;
  /** Forgets tokens that expired before `before`: their expiry refuses them without a record. */
  prune(before: Date): number;
  close(): void;
}
