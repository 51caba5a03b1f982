import type { CredentialKind } from '../../../domain/crypto/credential.ts';
import { fromBase64url } from '../../../domain/crypto/index.ts';
import { parseMessage, protocolFailure, type NodeProvisioningResult } from '../../../domain/protocols/index.ts';
import { ProvisioningRecorded, type Device, type PinnedResponder } from '../../protocols/procedures/index.ts';
import { destroyQuietly } from '../../protocols/shared/index.ts';
import { refusedForGood } from '../refused-for-good.ts';
import { receiptRefusedByTheServer } from './receipt-refusal.ts';
import { sessionUnknownAt } from './session-unknown.ts';
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
const RECEIPT = 'provisioning.receipt';

/**
 * The receipt was sent (or its sending attempted) and no answer that the credential is recorded for this key arrived:
 * a 5xx, a gateway's error (whatever its status), a 408 or 429, a timeout, a connection lost, a 2xx that fails a local
 * check, `unknown_session` (a copy of the receipt may have ended the run, recorded: `sessionUnknownAt`), or a refusal
 * of Credence's own type without the Enrolment Function's proof that it refused this receipt (`refusalProof`: one
 * without may have been made up on the path, review 319), to the receipt and to the same receipt sent again. Whether
 * the server recorded the credential is not known, so the new key is kept (`handle`), not in `device.credentials`;
 * whoever named it before the receipt (`beforeReceipt`) settles it later by its fingerprint.
 */
export class ReceiptOutcomeUnknown extends Error {
  constructor(readonly credentialId: string, readonly handle: NodeProvisioningResult['handle'], override readonly cause: unknown) {
    super(`whether the server recorded credential ${credentialId} is not known (${cause instanceof Error ? cause.message : 'no answer'})`);
    this.name = 'ReceiptOutcomeUnknown';
  }
}

/** The server's refusal of the receipt, its proof verified (`receiptRefusedByTheServer`): carried to the key's destruction. */
class ReceiptRefused {
  constructor(readonly refusal: unknown) {}
}

/**
 * The first field of the (unsigned) `provisioning.recorded` answer that is not what this run asked for: the node, the
 * kind of the key made, or the predecessor the hello named (review 417: an answer for another node, kind or predecessor
 * was taken, and shown as fact). Named with the device's own value, never the answer's (it may come from the path).
 */
const recordedDifferences = (
  recorded: Pick<ProvisioningRecorded, 'nodeId' | 'kind' | 'predecessorId'>,
  asked: { readonly nodeId: string; readonly kind: CredentialKind; readonly predecessorId?: string | undefined },
): string | undefined => {
  if (recorded.nodeId !== asked.nodeId) return `nodeId: the answer names another node than this device's, ${asked.nodeId}`;
  if (recorded.kind !== asked.kind) return `kind: the answer names another kind than the ${asked.kind} key this run made`;
  if (recorded.predecessorId !== asked.predecessorId) {
    return asked.predecessorId === undefined
      ? 'predecessorId: the answer names a predecessor, and this run named none'
      : `predecessorId: the answer names ${recorded.predecessorId === undefined ? 'no predecessor' : 'another predecessor'}, and this run named ${asked.predecessorId}`;
  }
  return undefined;
};

/**
 * Remote provisioning (seed 003 clause 11.2.1) from the device's side, across a connection: the same node client
 * as in process, each message posted to the Enrolment Function's route. The device keeps the new credential only
 * once the server answers that it recorded it. A refusal or failure before the receipt is sent destroys what the run
 * made. Once it is sent, nothing the device can be answered proves that nothing was recorded: a 5xx, a gateway's or
 * proxy's error of any status, a 408 or 429, a timeout, a connection lost, a 2xx answer that fails a local check such
 * as `credential_mismatch` (another credential id, fingerprint, node, kind or predecessor: review 417) or the
 * certificate's proof, `unknown_session` (review 238: a copy of the receipt that got in
 * first had it recorded), but the Enrolment Function's refusal of this very receipt in this run, under the key pinned
 * (`refusalProof`, receipt-refusal.ts; review 333), which destroys the key as a refusal before the receipt does. Any
 * other refusal of Credence's own type may be made up on the path once the receipt reached the server (review 319).
 * Such a refusal is answered by sending the same receipt once more, which the server answers, for a run it recorded,
 * with the same provisioning.recorded, checked as the first; the outcome otherwise is unknown: the key is kept and the run fails with `ReceiptOutcomeUnknown` (found in
 * review: the key was destroyed while the server might hold the credential bound to it; review 64: so was it on a
 * gateway's 408, 429 or HTML 4xx page). The caller, which named the key in `beforeReceipt`, settles it by the
 * fingerprint the server holds.
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
  let sent = false;
  try {
    const auth = await session.acceptChallenge(await transport.post(DEVICE_PATHS.enrolmentStep('hello'), session.hello));
    const delivered = await session.acceptDelivery(await transport.post(DEVICE_PATHS.enrolmentStep('auth'), auth));
    const made = delivered.result;
    result = made;
    await request.beforeReceipt?.(made);
    sent = true;
    const receiptAnswer = async (): Promise<{ recorded: ProvisioningRecorded; credential: NodeProvisioningResult['credential'] }> => {
      const recorded = parseMessage(ProvisioningRecorded, await transport.post(DEVICE_PATHS.enrolmentStep('receipt'), delivered.receipt), RECORDED);
      if (recorded.credentialId !== request.credentialId || recorded.fingerprint !== made.credential.fingerprint) {
        throw protocolFailure(RECORDED, 'credential_mismatch', 'the server recorded another credential');
      }
      const differing = recordedDifferences(recorded, { nodeId: device.nodeId, kind: made.credential.kind, predecessorId: request.predecessorId });
      if (differing !== undefined) throw protocolFailure(RECORDED, 'credential_mismatch', differing);
      // The certificate comes with the answer that the credential is recorded, not with the delivery, under the
      // Enrolment Function's proof (the answer is not signed).
      return { recorded, credential: await session.acceptCertificate(recorded.certificate, recorded.certificateProof) };
    };
    // The Enrolment Function's own refusal of this very receipt in this run, under the key pinned (review 333).
    const refusedByTheServer = (error: unknown) => receiptRefusedByTheServer(error, ef, { transcriptHash: made.transcriptHash, receipt: delivered.receipt });
    let answered: Awaited<ReturnType<typeof receiptAnswer>>;
    try {
      answered = await receiptAnswer();
    } catch (error) {
      if (refusedByTheServer(error)) throw new ReceiptRefused(error);
      // A refusal without that proof may be made up on the path and hide a receipt the server recorded (review 319).
      // The same receipt once more gets a recorded run's answer again within its timeout (answered-runs.ts), checked
      // as the first.
      if (!refusedForGood(error) || sessionUnknownAt(error, RECEIPT)) throw error;
      answered = await receiptAnswer().catch((again: unknown) => Promise.reject(refusedByTheServer(again) ? new ReceiptRefused(again) : error));
    }
    const { recorded } = answered;
    result = { ...made, credential: answered.credential };
    device.credentials.set(request.credentialId, { handle: result.handle, descriptor: result.credential });
    if (result.serviceParameters.cseId !== undefined) device.cseId = result.serviceParameters.cseId;
    return { result, recorded };
  } catch (error) {
    await session.abort();
    if (result === undefined) throw error;
    // Once the receipt is sent no answer proves that nothing was recorded but the Enrolment Function's refusal of it
    // under its pinned key: any other refusal of Credence's own type may be made up on the path after the server
    // recorded the receipt (review 319). A mismatched credential neither: the server may have recorded this key's
    // credential and answered wrongly, and the caller's settling compares fingerprints, so a credential recorded for
    // another key is destroyed, never adopted.
    if (sent && !(error instanceof ReceiptRefused)) throw new ReceiptOutcomeUnknown(request.credentialId, result.handle, error);
    await destroyQuietly(device.se, result.handle);
    throw error instanceof ReceiptRefused ? error.refusal : error;
  }
};
