import { z } from 'zod';
import { AeId, AppId, AssociationId, CredentialId, CseId, Instant, NodeId } from '../ids.ts';
import { base64urlText, RevocationReason } from './common.ts';
import { HASH_LENGTH } from '../crypto/sizes.ts';

/** The Registree of a security association: a CSE or an AE (seed 003, 11.3). */
export const Registree = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('cse'), id: CseId }),
  z.object({ kind: z.literal('ae'), id: AeId, appId: AppId }),
]);
export type Registree = z.infer<typeof Registree>;

/** Association Configuration (11.3.1): the Registree learns the Registrar CSE-ID it will associate with. */
export const AssociationConfigured = z.object({
  associationId: AssociationId,
  nodeId: NodeId,
  registree: Registree,
  registrarCseId: CseId,
  credentialId: CredentialId,
});
/** Association Handshake completed (11.3.2): mutual authentication done, session key derived on both ends. */
export const AssociationEstablished = z.object({
  associationId: AssociationId,
  expiresAt: Instant,
  /** Hash of the handshake transcript, so the handshake can be matched to this fact; never the session key. */
  transcriptHash: base64urlText({ exact: HASH_LENGTH }).optional(),
});
export const AssociationExpired = z.object({ associationId: AssociationId });
export const AssociationRevoked = z.object({ associationId: AssociationId, reason: RevocationReason });

export const associationEvents = {
  AssociationConfigured,
  AssociationEstablished,
  AssociationExpired,
  AssociationRevoked,
} as const;
