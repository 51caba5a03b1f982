import type { AgreementGroup } from '../../../domain/crypto/agreement.ts';
import { toBase64url } from '../../../domain/crypto/base64url.ts';
import type { Ephemeral } from '../../../domain/protocols/ephemeral.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';

/** Our ephemeral key as the peer is to see it; undefined only if the Secure Environment shows no public key. */
export const wireEphemeral = async (
  se: OwnedSecureEnvironment,
  group: AgreementGroup,
  handle: KeyHandle,
): Promise<Ephemeral | undefined> => {
  const { publicKey } = await se.describe(handle);
  return publicKey ? { group, publicKey: toBase64url(publicKey) } : undefined;
};
