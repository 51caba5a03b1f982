import { assertUsableCredential } from '../../../domain/protocols/protocol.ts';
import type { AssociationHello } from '../../../domain/protocols/association-messages.ts';
import { realRefusal } from '../shared/decoy.ts';
import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import type { RegistrarScope, RegistreeCredential } from './registrar-options.ts';

/** How a run's hello found its credential (its scope's lookups, else the Registrar's own), kept to read it again. */
export type CredentialLookup = Pick<RegistrarScope, 'resolveCredential' | 'knownCredential'>;

/**
 * The credential a run's hello found usable, read again by the hello's own lookup once the Registree's finish proof
 * verified, before any lifetime is granted, key derived or run remembered: it may have ended since (an operator
 * revoked it, its node or its association; its window passed). An asymmetric credential has no key at the Registrar
 * for the shredder to destroy, so nothing else ended such a run before the engine refused to record it (found after
 * review 64, as in remote provisioning: bootstrap-still-usable.ts). Only a Registree whose proof verified gets here,
 * the holder, and it is told why (`credential_revoked`, ...), as a decoy run's holder is (`refuseDecoyFinish`), by
 * the hello's rule: the association's lookup first, the credential it was configured with for the reason when that
 * finds none. A stranger's proof failed before, so the extra read tells a stranger nothing. The credential as read
 * now is returned: a rotation started since the hello ends it sooner (registrar-finish.ts cuts the grant to it).
 */
export const assertCredentialStillUsable = async (
  step: string,
  lookup: CredentialLookup,
  hello: AssociationHello,
  now: Date,
): Promise<RegistreeCredential & { readonly descriptor: CredentialDescriptor }> => {
  const { registreeId, credential } = hello;
  const check = (resolved: RegistreeCredential | undefined) => assertUsableCredential(step, resolved, credential, now, registreeId);
  const resolved = await lookup.resolveCredential(registreeId, credential.fingerprint);
  try {
    return check(resolved);
  } catch (error) {
    // At a hello the refusal is concealed (`unusableCredential`); past the holder's proof its real reason is the answer.
    const refusal = realRefusal(error);
    if (resolved !== undefined || lookup.knownCredential === undefined) throw refusal;
    // The association cannot be run any more: if its credential cannot be used either, that is the reason (as at the hello).
    try {
      check(await lookup.knownCredential(registreeId, credential.fingerprint));
    } catch (own) {
      throw realRefusal(own);
    }
    throw refusal;
  }
};
