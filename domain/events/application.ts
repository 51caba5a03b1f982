import { z } from 'zod';
import { AeId, AppId, AssociationId, CredentialId } from '../ids.ts';
import { RevocationReason } from './common.ts';

/** M2M Application Enrolment (seed 003, 11.2.2): an App-ID registered with the application registration authority. */
export const ApplicationRegistered = z.object({
  appId: AppId,
  name: z.string().min(1).max(128),
  provider: z.string().min(1).max(128),
});
/**
 * The App-ID is associated with its security credential; all instances are managed through it. With `replaces`,
 * a move from that credential onto this one, recorded only while the App-ID is enrolled with it still (the cascade
 * moves it so onto a rotation's successor: an enrolment the operator ended or moved elsewhere meanwhile stands).
 */
export const ApplicationEnrolled = z.object({ appId: AppId, credentialId: CredentialId, replaces: CredentialId.optional() });
export const ApplicationInstanceAssociated = z.object({ appId: AppId, aeId: AeId, associationId: AssociationId });
export const ApplicationInstanceReleased = z.object({ appId: AppId, associationId: AssociationId });
/**
 * The App-ID's authorisation ended with the credential it was enrolled with (revoked or expired, seed 003 11.2.2:
 * each App-ID "is associated with a security credential"): its instances lose access as if it were revoked, with
 * the reason they inherit, but the App-ID stays registered and may be enrolled again with another credential.
 */
export const ApplicationEnrolmentEnded = z.object({ appId: AppId, credentialId: CredentialId, reason: RevocationReason });
/** Revoking an App-ID revokes access for all instances of the application (11.2.2). */
export const ApplicationRevoked = z.object({ appId: AppId, reason: RevocationReason.extract(['unspecified', 'keyCompromise', 'privilegeWithdrawn', 'cessationOfOperation']) });

export const applicationEvents = {
  ApplicationRegistered,
  ApplicationEnrolled,
  ApplicationInstanceAssociated,
  ApplicationInstanceReleased,
  ApplicationEnrolmentEnded,
  ApplicationRevoked,
} as const;
