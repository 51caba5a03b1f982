import { publicKeyFingerprint } from '../../../domain/crypto/fingerprint.ts';
import { fromBase64url } from '../../../domain/crypto/index.ts';
import { parseMessage, protocolFailure } from '../../../domain/protocols/index.ts';
import { PinnedResponder } from '../../protocols/procedures/index.ts';
import { DEVICE_PATHS, type DeviceTransport } from './transport.ts';

/** The Enrolment Function and the Registrar CSE as a device pins them: their ids and public keys. */
export interface PinnedInfrastructure {
  readonly enrolmentFunction: PinnedResponder;
  readonly registrar: PinnedResponder;
}

const responder = async (transport: DeviceTransport, path: string, step: string): Promise<PinnedResponder> => {
  const pinned = parseMessage(PinnedResponder, await transport.get(path), step);
  const { kind, publicKey } = pinned.publicKey;
  // The fingerprint is what an operator compares out of band; it must be this key's.
  if (publicKeyFingerprint(kind, fromBase64url(publicKey)) !== pinned.fingerprint) throw protocolFailure(step, 'credential_mismatch', 'fingerprint is not the public key\'s');
  return pinned;
};

/** Whom the server names now as `which` (what init pins), checked as init checks it: to compare with a pin (review 302). */
export const fetchResponder = (transport: DeviceTransport, which: 'enrolmentFunction' | 'registrar'): Promise<PinnedResponder> =>
  which === 'enrolmentFunction'
    ? responder(transport, DEVICE_PATHS.enrolment, 'pin.enrolment-function')
    : responder(transport, DEVICE_PATHS.registrar, 'pin.registrar');

/**
 * Asks the server whom to pin. Trust on first use: a device does this once, at the factory (`credence device init`),
 * and keeps the answer; every later run authenticates the infrastructure against these keys.
 */
export const fetchPinnedInfrastructure = async (transport: DeviceTransport): Promise<PinnedInfrastructure> => ({
  enrolmentFunction: await fetchResponder(transport, 'enrolmentFunction'),
  registrar: await fetchResponder(transport, 'registrar'),
});
