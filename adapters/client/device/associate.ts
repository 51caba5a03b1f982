import { validationError } from '../../../domain/errors.ts';
import type { AssociationOutcome } from '../../../domain/protocols/index.ts';
import type { Device, PinnedResponder } from '../../protocols/procedures/index.ts';
import { DEVICE_PATHS, type DeviceTransport } from './transport.ts';

export interface AssociateRequest {
  /** The association an operator configured for this device (11.3.1). */
  readonly associationId: string;
  readonly credentialId: string;
  readonly lifetimeSeconds: number;
  /** The Registree's CSE-ID; default the one received at provisioning. */
  readonly registreeId?: string | undefined;
  /** The Registrar CSE as pinned at the factory. */
  readonly registrar: PinnedResponder;
}

/**
 * The association handshake (seed 003 clause 11.3.2) from the Registree's side, across a connection. The session
 * keys are stored in the device's Secure Environment only once the Registrar's confirm verifies; any refusal or
 * failure on the way destroys what the run made (the Registrar has recorded the association once it answered
 * the finish: RegistrarEndpoint).
 */
export const associateOverHttp = async (transport: DeviceTransport, device: Device, request: AssociateRequest): Promise<AssociationOutcome> => {
  const registreeId = request.registreeId ?? device.cseId;
  if (registreeId === undefined) {
    throw validationError([{ path: 'registreeId', rule: 'required', message: `device ${device.nodeId} has no CSE-ID yet: provision it first, or name the Registree` }], 'association');
  }
  const { registrar } = request;
  const node = device.registree(request.credentialId, registreeId, { id: registrar.id, key: registrar.publicKey });
  const handshake = await node.start({ lifetimeSeconds: request.lifetimeSeconds, associationId: request.associationId });
  try {
    const challenge = await transport.post(DEVICE_PATHS.registrarStep(request.associationId, 'hello'), handshake.hello);
    const { finish } = await handshake.acceptChallenge(challenge);
    return await handshake.acceptConfirm(await transport.post(DEVICE_PATHS.registrarStep(request.associationId, 'finish'), finish));
  } catch (error) {
    await handshake.abort();
    throw error;
  }
};
