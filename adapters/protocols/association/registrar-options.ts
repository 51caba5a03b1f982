import type { Clock } from '../../../domain/ports/clock.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import type { ReplayCache } from '../../../domain/ports/replay-cache.ts';
import type { AssociationClosedReason } from '../../../domain/protocols/protocol.ts';
import type { CredentialKey } from '../shared/proof.ts';

/** The Registree's credential as the engine knows it. */
export interface RegistreeCredential {
  readonly descriptor: CredentialDescriptor;
  /** The Registrar's own handle of the shared PSK (psk256 only). */
  readonly handle?: KeyHandle;
  readonly revoked?: boolean;
  /**
   * When the overlap of a rotation it started ends, while that rotation stands (HLR-212): the credential hands over
   * to its successor then, and the cascade revokes what derives from it, so no association on it outlives that.
   */
  readonly overlapEndsAt?: string;
  /**
   * When the M2M service subscription of the node it serves ends (seed 003 11.2.1: a credential's lifetime is the
   * subscription's): no association on it outlives that either.
   */
  readonly subscriptionEndsAt?: string;
}

export interface RegistrarOptions {
  /** The Registrar CSE-ID the Registrees are configured with (clause 11.3.1). */
  readonly id: string;
  /** The Secure Environment as this Registrar CSE's owner sees it (bound by whoever wires it). */
  readonly se: OwnedSecureEnvironment;
  readonly now: Clock['now'];
  readonly random: RandomSource;
  readonly replayCache: ReplayCache;
  readonly resolveCredential: (registreeId: string, fingerprint: string) => Promise<RegistreeCredential | undefined>;
  /** Authenticates this Registrar to Registrees holding asymmetric credentials. */
  readonly signingKey?: CredentialKey & { readonly kind: 'ed25519' | 'p256' };
  /** Kept between an association's end and its credential's (default 60 s). */
  readonly lifetimeMarginSeconds?: number;
  readonly maxClockSkewSeconds?: number;
  readonly sessionTimeoutSeconds?: number;
  readonly maxSessions?: number;
  /**
   * Authenticated runs one initiator may begin within the replay window (default 32, `DEFAULT_RUNS_PER_CLAIMANT`):
   * past them it alone is refused `too_many_runs`, so one compromised device cannot fill the replay cache.
   */
  readonly runsPerInitiator?: number;
}

/**
 * A handshake bound to one configured association, for a caller driven one message per request (HTTP): the hello
 * is resolved against that association only, and its finish is accepted only for the same `association`.
 */
export interface RegistrarScope {
  readonly association: string;
  readonly resolveCredential: RegistrarOptions['resolveCredential'];
  /**
   * The credential the association was configured with, whatever its state or the association's, when
   * `resolveCredential` finds none: never run with, only asked why a credential cannot be used and to check the
   * proof of a decoy run with (decoy.ts), so that its holder, and the log, are told that it was revoked, say.
   */
  readonly knownCredential?: RegistrarOptions['resolveCredential'];
  /**
   * Why the association takes no handshake for this Registree (its state, or the rule that refuses it), or undefined:
   * asked only once a Registree's proof verified with the credential `knownCredential` finds usable, to tell that
   * holder why (registrar-still-usable.ts), never at a hello, so no stranger's hello reads more for it (review 64 F2).
   */
  readonly closedBecause?: (registreeId: string) => Promise<AssociationClosed | undefined>;
}

/** Why an association whose credential can be used takes no handshake: a reason of its own, and what to do. */
export interface AssociationClosed {
  readonly reason: AssociationClosedReason;
  readonly detail: string;
}
