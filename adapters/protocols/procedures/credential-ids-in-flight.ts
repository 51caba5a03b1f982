/**
 * The credential ids this process's authenticated provisioning runs have claimed and not yet settled, each with the
 * Enrolment Function session of the run that holds it. The admission's check that an id has no events
 * (`admitProvisioningRun`) cannot see a run of the same id between its auth and its first append: found in review
 * 138, a device that sent its auth twice at once ran two runs of one id to their receipts, and the refused one's
 * bookkeeping, kept by credential id (a pending PSK copy, a key pair's run record), spoiled the recorded one's. A run
 * claims its id once admitted, so a second is refused as an id in use is; the claim goes when the run ends without a
 * receipt accepted (EnrolmentFunctionOptions.runEnded), or, once its receipt is accepted, when its recording has ended
 * either way (`recordProvisioningRun`). In memory, as the runs are: none outlives its process.
 *
 * Each claim names the node whose run holds it (`node`: its id and bootstrap fingerprint, proved at the auth), so
 * that a newer run of the same node can take over one whose receipt was not accepted (review 140: a device retrying
 * after a lost delivery was refused for the whole session timeout), and whether its receipt was accepted.
 */
export interface ClaimHolder {
  readonly sessionId: string;
  readonly node: string;
  /** Its receipt was accepted: its outcome is being recorded, and the claim goes when that has ended. */
  readonly recording: boolean;
}

export class CredentialIdsInFlight {
  readonly #claims = new Map<string, ClaimHolder>();

  /** Claims `credentialId` for the run of `sessionId` by `node`; true, or the run that holds it. */
  claim(credentialId: string, sessionId: string, node: string): true | ClaimHolder {
    const holder = this.#claims.get(credentialId);
    if (holder !== undefined && holder.sessionId !== sessionId) return holder;
    this.#claims.set(credentialId, { sessionId, node, recording: false });
    return true;
  }

  /** The run of `sessionId` had its receipt accepted: it keeps its claim until `release`, and no run takes it over. */
  recording(credentialId: string, sessionId: string): void {
    const holder = this.#claims.get(credentialId);
    if (holder?.sessionId === sessionId) this.#claims.set(credentialId, { ...holder, recording: true });
  }

  /** The run of `sessionId` is settled: its claim on `credentialId`, if it holds it, goes (never another run's). */
  release(credentialId: string, sessionId: string): void {
    if (this.#claims.get(credentialId)?.sessionId === sessionId) this.#claims.delete(credentialId);
  }
}
