import type { CredenceError } from '../../../domain/errors.ts';
import { CredentialId } from '../../../domain/ids.ts';
import { parseMessage, protocolFailure } from '../../../domain/protocols/protocol.ts';
import { ProvisioningHello, ProvisioningReceipt, type ProvisioningChallenge, type ProvisioningDelivery } from '../../../domain/protocols/enrolment-messages.ts';
import type { Infrastructure } from './infrastructure.ts';
import { recordProvisioningRun } from './record.ts';
import { certificateOf } from './descriptors.ts';
import type { PinnedResponder, ProvisioningRecorded } from './wire.ts';
import type { Claim } from '../shared/session-table.ts';
import type { RunWatch } from '../shared/failed-proofs.ts';
import { AnsweredRuns } from './answered-runs.ts';
import { withRefusalProof } from '../enrolment/index.ts';

const HELLO = 'provisioning.hello';
const RECEIPT = 'provisioning.receipt';

/**
 * The hello's ids are the message's loose `Identifier`, but the credential is recorded under the engine's
 * `CredentialId` (and its predecessor named by one): an id the engine can never record is refused here, before any
 * key is made or a run slot taken, not at the receipt after a PSK was made and delivered (found in review 64). The
 * rule is the id's own, public: refusing by it tells nothing of which ids exist.
 */
const assertRecordableIds = (hello: Pick<ProvisioningHello, 'credentialId' | 'predecessorId'>): void => {
  for (const field of ['credentialId', 'predecessorId'] as const) {
    const id = hello[field];
    const parsed = id === undefined ? undefined : CredentialId.safeParse(id);
    if (parsed?.success === false) throw protocolFailure(HELLO, 'malformed', `${field}: ${parsed.error.issues[0]?.message ?? 'not a credential id'}`);
  }
};

/**
 * The Enrolment Function (seed 003 clause 11.2.1) driven one message at a time, for a node across a connection:
 * each call is one request and answers it with the next message. Between requests only the Enrolment Function's
 * bounded session table holds anything (SessionTable, issue 11 item 4); this class keeps nothing.
 *
 * Once a receipt verifies, the credential is recorded exactly as `SecurityProcedures.provisionRemotely` records it
 * (`recordProvisioningRun`), under the id the node sent in its hello: over a connection that id is required, and the
 * receipt statement the node signs binds it. A successor (rotation, HLR-212) names its predecessor in its hello
 * (`predecessorId`), which the node's proofs cover; the hello's request may repeat it (older clients sent it there
 * only) but never differ from it. The engine's own rule bounds it too: a predecessor must be a live credential of
 * the same node (`predecessorIsLive`), and the rotation itself (`startCredentialRotation`, its overlap) stays an
 * operator's command.
 *
 * A hello gets only the Enrolment Function's own checks (addressee, freshness, a usable bootstrap credential):
 * whether the credential id is free and the predecessor qualifies is asked once the node has authenticated, before
 * any key is made for the run (`admitProvisioningRun`), so an unauthenticated sender learns nothing of either.
 */
export class EnrolmentEndpoint {
  /** The answers of the runs a receipt ended, for a repeat of that receipt (answered-runs.ts, review 238). */
  readonly #answered: AnsweredRuns<ProvisioningRecorded>;

  constructor(private readonly infra: Infrastructure) {
    this.#answered = new AnsweredRuns(() => infra.o.engine.clock.now());
  }

  /** What a node pins at the factory to authenticate this Enrolment Function. */
  identity(): Promise<PinnedResponder> {
    return this.infra.pinned('enrolment-function');
  }

  /**
   * `peer`: the address the hello came from (`Claim.peer`), so that hellos from elsewhere never end this node's run. A
   * hello whose bootstrap credential cannot be used gets a decoy challenge (shared/decoy.ts); `concealed` is told why.
   */
  acceptHello(
    input: unknown,
    request: { readonly predecessorId?: string | undefined } = {},
    peer?: Claim['peer'],
    concealed?: (refusal: CredenceError) => void,
  ): Promise<ProvisioningChallenge> {
    const hello = parseMessage(ProvisioningHello, input, HELLO);
    if (hello.credentialId === undefined) throw protocolFailure(HELLO, 'malformed', 'credentialId: required over a connection, it names the credential to record');
    assertRecordableIds(hello);
    // Only what the proofs cover: a predecessor in the request alone could be added or changed on the path.
    if (request.predecessorId !== undefined && request.predecessorId !== hello.predecessorId) {
      throw protocolFailure(HELLO, 'malformed', 'predecessorId: the request names a predecessor the hello does not');
    }
    const { predecessorId } = hello;
    return this.infra.enrolmentFunction.acceptHello(hello, predecessorId !== undefined ? { predecessorId } : {}, peer, concealed);
  }

  acceptAuth(input: unknown): Promise<ProvisioningDelivery> {
    return this.infra.enrolmentFunction.acceptAuth(input);
  }

  /**
   * Verifies the receipt, then records `CredentialIssued` and `CredentialProvisioned`; nothing when either is refused.
   * A repeat of the receipt that ended its run, within the run's timeout, gets that receipt's answer, recorded or
   * refused (answered-runs.ts): a copy that got in first must not leave the device's own told `unknown_session`.
   */
  async acceptReceipt(input: unknown): Promise<ProvisioningRecorded> {
    const { sessionId } = parseMessage(ProvisioningReceipt, input, RECEIPT);
    return this.#answered.answer(RECEIPT, sessionId, input, (watch) => this.#record(input, watch));
  }

  async #record(input: unknown, watch: RunWatch): Promise<ProvisioningRecorded> {
    const receipt = parseMessage(ProvisioningReceipt, input, RECEIPT);
    const { outcome, context } = await this.infra.enrolmentFunction.acceptReceiptInContext(receipt, watch);
    const credentialId = outcome.credentialId as string; // acceptHello let no run without it through
    const { predecessorId } = context;
    let provisioned;
    try {
      provisioned = await recordProvisioningRun(this.infra, { outcome, credentialId, purpose: 'service', predecessorId });
    } catch (error) {
      // The engine's refusal of the record (the node revoked since its auth, say) appended nothing: the node is told so
      // under the Enrolment Function's key, and destroys its new key (enrolment-receipt.ts `withRefusalProof`).
      const { se, kind, ef } = this.infra.signing;
      throw await withRefusalProof(se, { kind, handle: ef }, { transcriptHash: outcome.transcriptHash, receipt }, error);
    }
    const event = provisioned.events.at(-1);
    const certificate = certificateOf(outcome);
    return {
      type: 'provisioning.recorded',
      credentialId,
      nodeId: outcome.nodeId,
      kind: outcome.credential.kind,
      fingerprint: outcome.credential.fingerprint,
      ...(predecessorId !== undefined ? { predecessorId } : {}),
      ...(certificate !== undefined ? { certificate } : {}),
      certificateProof: outcome.certificateProof,
      position: String(event?.position ?? 0n),
      completedAt: outcome.completedAt,
    };
  }
}
