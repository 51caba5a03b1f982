import type { CredentialDescriptor, CredentialKind } from '../../../domain/crypto/credential.ts';
import type { Clock } from '../../../domain/ports/clock.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import type { ReplayCache } from '../../../domain/ports/replay-cache.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import type { ServiceParameters } from '../../../domain/protocols/enrolment-messages.ts';
import type { TrustAnchors } from '../../../domain/x509/chain.ts';
import type { CredentialKey } from '../shared/proof.ts';
import type { CertificateIssuance } from './certificate-issuance.ts';
import type { KeptHello, RunContext } from './enrolment-runs.ts';

/** The node's pre-existing credential as the engine knows it (recorded at pre-provisioning). */
export interface BootstrapCredential {
  readonly descriptor: CredentialDescriptor;
  /** The Enrolment Function's own handle of the bootstrap PSK (psk256 only). */
  readonly handle?: KeyHandle;
  readonly revoked?: boolean;
}

export interface EnrolmentFunctionOptions {
  readonly id: string;
  /** The Secure Environment as this function's owner sees it: every key it uses (its signing key, PSK copies, ephemerals). */
  readonly se: OwnedSecureEnvironment;
  readonly now: Clock['now'];
  readonly random: RandomSource;
  readonly replayCache: ReplayCache;
  readonly resolveBootstrap: (nodeId: string) => Promise<BootstrapCredential | undefined>;
  /**
   * Authenticates this function to nodes with an asymmetric bootstrap (nodes pin its public key), and signs every
   * receipt statement it accepts (the only proof of a PSK-only receipt a third party can check).
   */
  readonly signingKey?: CredentialKey & { readonly kind: 'ed25519' | 'p256' };
  /** Manufacturer CAs for IDevID bootstraps (SER-SWIR-04). */
  readonly trustAnchors?: TrustAnchors;
  readonly credentialLifetimeSeconds: number;
  readonly serviceParameters?: (nodeId: string) => ServiceParameters | Promise<ServiceParameters>;
  /**
   * When the M2M service subscription the node is enrolled under ends (seed 003 11.2.1: a credential's lifetime is the
   * subscription's), asked once the node's auth proof has verified, as `serviceParameters`: the granted validity is cut
   * to it (review 195). Not asked at the hello: the challenge would tell anyone holding a Node-ID when its contract ends.
   */
  readonly subscriptionEndsAt?: (nodeId: string) => Promise<string | undefined>;
  /**
   * The key fingerprint recorded for a credential: a rotation's predecessor (its run's context `predecessorId`), asked
   * once the node's auth proof has verified, as `serviceParameters`, and only for a node key. A node key with it is
   * refused at the auth step (`credential_mismatch`), before a certificate is signed for it at the receipt (review 195:
   * the credential machine's keyIsNew refused its record only after the CA had signed). Without it, that record alone.
   */
  readonly predecessorFingerprint?: (credentialId: string) => Promise<string | undefined>;
  /**
   * Whether any credential in the store was ever issued on this key (SER-010, the credential machine's
   * keyNeverCertified), asked for a node key once its proof of possession has verified (so only a holder of the key
   * learns it), before a certificate is made for it. Such a key is refused at the auth step as `credential_mismatch`,
   * naming no credential: the device may not learn another node's credential id. Without it, the record alone.
   */
  readonly keyCertified?: (fingerprint: string) => Promise<boolean>;
  /**
   * The caller's own refusals of a run (an id already taken, say), asked once the node's auth proof has verified and
   * before any key is made or delivered for it; a throw ends the run. Not asked at the hello: a refusal there would
   * tell an unauthenticated sender what it checked, and cost a read per hello. `sessionId` names the run to `runEnded`.
   * The hello comes as its run keeps it, without its manufacturer chain (`KeptHello`). Asked before the run is
   * remembered: a refusal writes nothing to the replay cache and takes none of the node's runs (`runsPerInitiator`),
   * but a credential id in use (issue `credentialId`, rule `unused`), which takes one (admit-authenticated-run.ts).
   */
  readonly admitAuthenticatedRun?: (run: { readonly sessionId: string; readonly hello: KeptHello; readonly context: RunContext }) => Promise<void>;
  /**
   * Told of every run's end, once its session is gone, however it ended: refused, timed out, evicted, or its receipt
   * accepted (`receiptAccepted`: its outcome is the caller's to record yet). What the admission holds for a run (a
   * credential id claimed) is released here, or, for a receipt accepted, once the caller has recorded it.
   */
  readonly runEnded?: (run: { readonly sessionId: string; readonly hello: KeptHello; readonly receiptAccepted: boolean }) => void;
  readonly allowedCredentialKinds?: readonly CredentialKind[];
  /**
   * Operational X.509 certificates issued from the node's CSR for asymmetric credentials (issue 13). With it, granted
   * validities are whole seconds, so the certificate's validity is the credential's exactly.
   */
  readonly certificates?: CertificateIssuance;
  readonly maxClockSkewSeconds?: number;
  readonly sessionTimeoutSeconds?: number;
  readonly maxSessions?: number;
  /**
   * Authenticated runs one initiator may begin within the replay window (default 32, `DEFAULT_RUNS_PER_CLAIMANT`):
   * past them it alone is refused `too_many_runs`, so one compromised device cannot fill the replay cache.
   */
  readonly runsPerInitiator?: number;
}
