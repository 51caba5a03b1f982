import type { Actor } from '../../../domain/metadata.ts';
import type { Engine } from '../../engine/index.ts';
import type { RandomSource } from '../../../domain/ports/random.ts';
import type { CertificateIssuance } from '../enrolment/index.ts';
import type { OwnedSecureEnvironment, ReplayCache } from '../../../domain/ports/index.ts';
import type { TrustAnchors } from '../../../domain/x509/chain.ts';
import type { KeyRegistry } from './key-registry.ts';

export interface InfrastructureOptions {
  readonly engine: Engine;
  /**
   * The Secure Environment as the M2M Enrolment and Authentication Functions' owner sees it (they share
   * provisioned PSKs, 11.2.1); bound by the composition root, e.g. `ownerView(se, 'maf:infrastructure')`.
   */
  readonly se: OwnedSecureEnvironment;
  readonly registry: KeyRegistry;
  readonly random: RandomSource;
  readonly replayCache: ReplayCache;
  /** The operator the recorded commands are attributed to. */
  readonly actor: Actor;
  readonly enrolmentFunctionId?: string;
  /** The Registrar CSE-ID Registrees are configured with (11.3.1). */
  readonly registrarCseId?: string;
  readonly trustAnchors?: TrustAnchors;
  /** How long a credential provisioned remotely lasts, and so its certificate (default `DEFAULT_CREDENTIAL_LIFETIME_SECONDS`). */
  readonly credentialLifetimeSeconds?: number;
  readonly signingKind?: 'ed25519' | 'p256';
  /** Operational certificates from nodes' CSRs (issue 13): the issuing CAs and the service's public URL. */
  readonly certificates?: CertificateIssuance;
  /** Authenticated runs one device may begin per replay window, at each responder (default 32). */
  readonly runsPerInitiator?: number;
  /** Runs in flight, pending or authenticated, each responder's session table holds at once (default 10,000). */
  readonly maxSessions?: number;
}

/**
 * A remotely provisioned credential's lifetime unless configured: a year. Its certificate lasts as long, so a CA stops
 * certifying nodes this long before its chain ends (`ca_expires_first`), which the PKI's warning and metric count in.
 */
export const DEFAULT_CREDENTIAL_LIFETIME_SECONDS = 365 * 24 * 3600;
