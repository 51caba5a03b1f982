/**
 * The credential ids this process's authenticated provisioning runs have claimed and not yet settled, each with the
 * Enrolment Function session of the run that holds it. The admission's check that an id has no events
 * (`admitProvisioningRun`) cannot see a run of the same id between its auth and its first append: found in review
 * 138, a device that sent its auth twice at once ran two runs of one id to their receipts, and the refused one's
 * bookkeeping, kept by credential id (a pending PSK copy, a key pair's run record), spoiled the recorded one's. A run
 * claims its id once admitted, so a second is refused as an id in use is; the claim goes when the run ends without a
 * receipt accepted (EnrolmentFunctionOptions.runEnded), or, once its receipt is accepted, when its recording has ended
 * either way (`recordProvisioningRun`). In memory, as the runs are: none outlives its process.
 */
export class CredentialIdsInFlight {
  readonly #claims = new Map<string, string>();

  /** Claims `credentialId` for the run of `sessionId`; false when another run holds it. */
  claim(credentialId: string, sessionId: string): boolean {
    const holder = this.#claims.get(credentialId);
    if (holder !== undefined && holder !== sessionId) return false;
    this.#claims.set(credentialId, sessionId);
    return true;
  }

  /** The run of `sessionId` is settled: its claim on `credentialId`, if it holds it, goes (never another run's). */
  release(credentialId: string, sessionId: string): void {
    if (this.#claims.get(credentialId) === sessionId) this.#claims.delete(credentialId);
  }
}
