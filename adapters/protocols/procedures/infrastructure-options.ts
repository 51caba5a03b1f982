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
  readonly credentialLifetimeSeconds?: number;
  readonly signingKind?: 'ed25519' | 'p256';
  /** Operational certificates from nodes' CSRs (issue 13): the issuing CAs and the service's public URL. */
  readonly certificates?: CertificateIssuance;
  /** Authenticated runs one device may begin per replay window, at each responder (default 32). */
  readonly runsPerInitiator?: number;
}
