import { validationError } from '../../../domain/errors.ts';
import type { AssociationOutcome } from '../../../domain/protocols/index.ts';
import type { Device, PinnedResponder } from '../../protocols/procedures/index.ts';
import { DEVICE_PATHS, type DeviceTransport } from './transport.ts';
import { sessionUnknownAt } from './session-unknown.ts';

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
 * The finish was answered `unknown_session`: the run is over, and the Registrar may have recorded the association, a
 * copy of this finish having got in first (`sessionUnknownAt`, review 238). No refusal of the service's own (it is no
 * `ProblemResponse`, so `refusedForGood` does not take it for one): said as a lost confirm is, the keys this run made
 * destroyed (they are kept only with a confirm that verifies), the association to be revoked if it stands.
 */
export class FinishOutcomeUnknown extends Error {
  constructor(readonly associationId: string, override readonly cause: unknown) {
    super(`the Registrar answered the finish unknown_session: the run is over, and a copy of this finish may have ended it and been recorded`);
    this.name = 'FinishOutcomeUnknown';
  }
}

/**
 * The association handshake (seed 003 clause 11.3.2) from the Registree's side, across a connection. The session
 * keys are stored in the device's Secure Environment only once the Registrar's confirm verifies; any refusal or
 * failure on the way destroys what the run made (the Registrar has recorded the association once it answered
 * the finish: RegistrarEndpoint). A finish answered `unknown_session` fails with `FinishOutcomeUnknown`.
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
    let confirm: unknown;
    try {
      confirm = await transport.post(DEVICE_PATHS.registrarStep(request.associationId, 'finish'), finish);
    } catch (error) {
      throw sessionUnknownAt(error, 'association.finish') ? new FinishOutcomeUnknown(request.associationId, error) : error;
    }
    return await handshake.acceptConfirm(confirm);
  } catch (error) {
    await handshake.abort();
    throw error;
  }
};
