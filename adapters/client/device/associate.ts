import { validationError } from '../../../domain/errors.ts';
import type { AssociationOutcome } from '../../../domain/protocols/index.ts';
import type { Device, PinnedResponder } from '../../protocols/procedures/index.ts';
import { DEVICE_PATHS, type DeviceTransport } from './transport.ts';
import { sessionUnknownAt } from './session-unknown.ts';
import { refusedForGood } from '../refused-for-good.ts';

const FINISH = 'association.finish';

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
 * the finish: RegistrarEndpoint). A finish answered `unknown_session` fails with `FinishOutcomeUnknown`. A finish
 * refused by a problem of Credence's own type is sent once more before the refusal is taken (review 319: refusals are
 * not signed, and one made up on the path after the Registrar recorded the finish cost the Registree its keys): the
 * Registrar answers a repeat of the finish it recorded with the same confirm, which the Registree checks as the first.
 * A refusal made up for every copy still costs the keys, as a lost confirm does; a rerun of the association is then
 * told `association_not_waiting`, with the hint to revoke it.
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
    const finishPath = DEVICE_PATHS.registrarStep(request.associationId, 'finish');
    let confirm: unknown;
    try {
      confirm = await transport.post(finishPath, finish);
    } catch (error) {
      if (sessionUnknownAt(error, FINISH)) throw new FinishOutcomeUnknown(request.associationId, error);
      if (!refusedForGood(error)) throw error;
      // A refusal is not signed: one made up on the path may hide a finish the Registrar recorded (review 319). The same
      // finish once more gets a recorded run's confirm again within its timeout (answered-runs.ts), checked as the first;
      // a genuine refusal's repeat is not answered so (`unknown_session`), and the refusal stands.
      confirm = await transport.post(finishPath, finish).catch(() => Promise.reject(error));
    }
    return await handshake.acceptConfirm(confirm);
  } catch (error) {
    await handshake.abort();
    throw error;
  }
};
