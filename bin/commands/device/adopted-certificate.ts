import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import { isCredenceError } from '../../../domain/errors.ts';
import { originOf, ProblemResponse, ServerUnreachable, UnexpectedResponse } from '../../../adapters/client/http.ts';
import { fetchRecordedCertificate } from '../../../adapters/client/device/index.ts';
import { clientOf, type ServerTarget } from '../options.ts';
import { shellWord } from '../../shell-word.ts';

/**
 * What became of an adopted credential's certificate: `held` (fetched, checked, kept in the state), `none` (the
 * server recorded none: a PSK, or a deployment without an issuing CA), or `missing` (it could not be had: the
 * adoption stands, and `certificateMissing` says why and what fetches it later; `unreachable` when the server was).
 */
export type CertificateOutcome =
  | { readonly certificate: 'held' | 'none' }
  | { readonly certificate: 'missing'; readonly certificateMissing: string; readonly unreachable: boolean };

/** Failures of the read that leave the adoption standing; anything else is a fault of this program, thrown. */
const cannotBeHad = (error: unknown): boolean =>
  error instanceof ServerUnreachable || error instanceof ProblemResponse || error instanceof UnexpectedResponse || isCredenceError(error);

/** Why, in a line: a gateway's page as the answer's text is cut, since the outcome carries it to the terminal and to --json. */
const causeOf = (error: unknown): string => {
  const cause = error instanceof ProblemResponse ? `the server answered ${error.status}: ${error.message}` : error instanceof Error ? error.message : 'no answer';
  return cause.length > 300 ? `${cause.slice(0, 300)}…` : cause;
};

/**
 * The certificate of an adopted credential, as the first run's answer would have carried it: read back from the
 * server with the token that settled the adoption, through the same call and check as `device certificate --server`
 * (fetchRecordedCertificate). Found in review: an adopting rerun left the credential without its certificate.
 */
export const adoptedCertificate = async (
  target: ServerTarget,
  credentialId: string,
  descriptor: CredentialDescriptor,
): Promise<{ readonly held: CredentialDescriptor; readonly outcome: CertificateOutcome }> => {
  if (descriptor.kind === 'psk256') return { held: descriptor, outcome: { certificate: 'none' } };
  try {
    const certified = await fetchRecordedCertificate(clientOf(target), credentialId, descriptor);
    return certified === undefined ? { held: descriptor, outcome: { certificate: 'none' } } : { held: certified, outcome: { certificate: 'held' } };
  } catch (error) {
    if (!cannotBeHad(error)) throw error;
    const certificateMissing =
      `credential ${credentialId} is adopted without its certificate (${causeOf(error)}): ` +
      `credence device certificate --credential ${shellWord(credentialId)} --server ${shellWord(originOf(target.url))} with an operator token (--token-file, --token or CREDENCE_TOKEN) fetches it later`;
    return { held: descriptor, outcome: { certificate: 'missing', certificateMissing, unreachable: error instanceof ServerUnreachable } };
  }
};
