import type { CredentialKind } from '../../../domain/crypto/credential.ts';
import { fromBase64url } from '../../../domain/crypto/index.ts';
import { parseMessage, protocolFailure, type NodeProvisioningResult } from '../../../domain/protocols/index.ts';
import { ProvisioningRecorded, type Device, type PinnedResponder } from '../../protocols/procedures/index.ts';
import { destroyQuietly } from '../../protocols/shared/index.ts';
import { DEVICE_PATHS, type DeviceTransport } from './transport.ts';

export interface ProvisionRequest {
  readonly credentialId: string;
  readonly kind: CredentialKind;
  /** The live credential of this node the new one succeeds (rotation, HLR-212). */
  readonly predecessorId?: string | undefined;
  /** The Enrolment Function as pinned at the factory. */
  readonly enrolmentFunction: PinnedResponder;
  /**
   * Called with the new key and what the server will record, before the receipt that makes it record them is sent
   * (write-ahead: a device that cannot name the key first must not send it). A throw ends the run as a refusal does,
   * the key destroyed and nothing sent.
   */
  readonly beforeReceipt?: ((made: NodeProvisioningResult) => Promise<void> | void) | undefined;
}

const RECORDED = 'provisioning.recorded';

/**
 * Remote provisioning (seed 003 clause 11.2.1) from the device's side, across a connection: the same node client
 * as in process, each message posted to the Enrolment Function's route. The device keeps the new credential only
 * once the server answers that it recorded it; any refusal or failure on the way destroys what the run made. A
 * receipt the server recorded whose answer was lost leaves a recorded credential the device no longer holds: an
 * operator revokes it, and the device provisions another.
 */
export const provisionOverHttp = async (
  transport: DeviceTransport,
  device: Device,
  request: ProvisionRequest,
): Promise<{ result: NodeProvisioningResult; recorded: ProvisioningRecorded }> => {
  const { enrolmentFunction: ef } = request;
  const client = device.provisioningClient({ id: ef.id, publicKey: { kind: ef.publicKey.kind, bytes: fromBase64url(ef.publicKey.publicKey) } });
  const session = await client.start({ credentialKind: request.kind, credentialId: request.credentialId, predecessorId: request.predecessorId });
  let result: NodeProvisioningResult | undefined;
  try {
    const auth = await session.acceptChallenge(await transport.post(DEVICE_PATHS.enrolmentStep('hello'), session.hello));
    const delivered = await session.acceptDelivery(await transport.post(DEVICE_PATHS.enrolmentStep('auth'), auth));
    result = delivered.result;
    await request.beforeReceipt?.(result);
    const recorded = parseMessage(ProvisioningRecorded, await transport.post(DEVICE_PATHS.enrolmentStep('receipt'), delivered.receipt), RECORDED);
    if (recorded.credentialId !== request.credentialId || recorded.fingerprint !== result.credential.fingerprint) {
      throw protocolFailure(RECORDED, 'credential_mismatch', 'the server recorded another credential');
    }
    // The certificate comes with the answer that the credential is recorded, not with the delivery, under the
    // Enrolment Function's proof (the answer is not signed).
    result = { ...result, credential: await session.acceptCertificate(recorded.certificate, recorded.certificateProof) };
    device.credentials.set(request.credentialId, { handle: result.handle, descriptor: result.credential });
    if (result.serviceParameters.cseId !== undefined) device.cseId = result.serviceParameters.cseId;
    return { result, recorded };
  } catch (error) {
    await session.abort();
    if (result !== undefined) await destroyQuietly(device.se, result.handle);
    throw error;
  }
};
