import type { CredenceError } from '../../../domain/errors.ts';
import { assertUsableCredential, protocolFailure } from '../../../domain/protocols/protocol.ts';
import type { AssociationHello } from '../../../domain/protocols/association-messages.ts';
import { realRefusal } from '../shared/decoy.ts';
import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import type { RegistrarScope, RegistreeCredential } from './registrar-options.ts';

/** How a run's hello found its credential (its scope's lookups, else the Registrar's own), kept to read it again. */
export type CredentialLookup = Pick<RegistrarScope, 'resolveCredential' | 'knownCredential' | 'closedBecause'>;

/**
 * The credential a run's hello found usable, read again by the hello's own lookup once the Registree's finish proof
 * verified, before any lifetime is granted, key derived or run remembered: it may have ended since (an operator
 * revoked it, its node or its association; its window passed). An asymmetric credential has no key at the Registrar
 * for the shredder to destroy, so nothing else ended such a run before the engine refused to record it (found after
 * review 64, as in remote provisioning: bootstrap-still-usable.ts). Only a Registree whose proof verified gets here,
 * the holder, and it is told why (`credential_revoked`, `association_not_waiting`, ...), as a decoy run's holder is
 * (`refusalToHolder`). A stranger's proof failed before, so the extra read tells a stranger nothing. The credential as
 * read now is returned: a rotation started since the hello ends it sooner (registrar-finish.ts cuts the grant to it).
 */
export const assertCredentialStillUsable = async (
  step: string,
  lookup: CredentialLookup,
  hello: AssociationHello,
  now: Date,
): Promise<RegistreeCredential & { readonly descriptor: CredentialDescriptor }> => {
  const { registreeId, credential } = hello;
  const resolved = await lookup.resolveCredential(registreeId, credential.fingerprint);
  try {
    return assertUsableCredential(step, resolved, credential, now, registreeId);
  } catch (error) {
    // At a hello the refusal is concealed (`unusableCredential`); past the holder's proof its real reason is the answer.
    const refusal = realRefusal(error);
    if (resolved !== undefined) throw refusal;
    throw await refusalToHolder(step, lookup, hello, now, refusal);
  }
};

/**
 * What a Registree whose proof verified with the credential is told when the association's lookup found none
 * (`refusal`, its `unknown_credential`), by the hello's rule: the credential the association was configured with
 * (`knownCredential`) cannot be used: why (`credential_revoked`, ...); it can: why the association takes no handshake
 * (`closedBecause`: `association_not_waiting` naming its state, or the rule, `cse_id_moved`, ...). Until review 161 the
 * holder was told `unknown_credential` ("no such credential") for a credential that exists and is usable: a device
 * retrying after a lost confirm could not tell its association had been established. Called only past the holder's
 * proof: a hello reads and answers alike whatever the association's state (review 64 F2).
 */
export const refusalToHolder = async (
  step: string,
  lookup: CredentialLookup,
  hello: AssociationHello,
  now: Date,
  refusal: CredenceError,
): Promise<CredenceError> => {
  if (lookup.knownCredential === undefined) return refusal;
  const { registreeId, credential } = hello;
  try {
    assertUsableCredential(step, await lookup.knownCredential(registreeId, credential.fingerprint), credential, now, registreeId);
  } catch (own) {
    return realRefusal(own);
  }
  const closed = await lookup.closedBecause?.(registreeId);
  return closed === undefined ? refusal : protocolFailure(step, closed.reason, closed.detail);
};
