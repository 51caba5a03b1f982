/** One Secure Environment key the infrastructure holds for an entity. */
export interface KeyBinding {
  readonly stream: string;
  readonly handle: string;
  readonly purpose: string;
}

/**
 * Which Secure Environment handles the infrastructure holds for which entity (the Enrolment Function's copy of
 * a provisioned PSK, the Registrar's session keys, the Enrolment Function and Registrar signing keys and the
 * pseudonym PRF key under `infrastructure`). Handles are references, not secrets; they are kept here, not in
 * events, because they mean nothing outside this Secure Environment, and for the same reason they cannot be rebuilt
 * from events: the registry is durable state of its own, never a read model (adapters/driven/key-registry).
 * The shredder reads it to destroy the keys of a revoked or expired entity.
 */
export interface KeyRegistry {
  /**
   * Binds `handle` to the entity `stream`. A `pending` binding waits for the event that makes the key the
   * entity's (a PSK copy: `CredentialProvisioned`): `confirm` it once recorded; one still pending when the
   * infrastructure starts belongs to a run that died, and is swept.
   */
  register(stream: string, handle: string, purpose: string, options?: { readonly pending?: boolean }): void;
  /** The event that makes a pending binding the entity's is recorded. */
  confirm(stream: string, handle: string): void;
  /** Live (not destroyed, not owed) handles of an entity, pending ones included, optionally of one purpose. */
  live(stream: string, purpose?: string): string[];
  /** Live (not owed) bindings still pending, of every entity. */
  pending(): KeyBinding[];
  /** The key is destroyed (or was already gone); any failure recorded for it is forgotten. */
  markDestroyed(stream: string, handle: string, at: Date): void;
  /** The Secure Environment refused to destroy the key: the shredder owes it, and tries again (`owed`). */
  destroyFailed(stream: string, handle: string, at: Date): void;
  /** Keys whose destruction failed and that are not destroyed yet, the longest waiting first. */
  owed(): OwedKey[];
  /**
   * A key pair's remote provisioning is recording its receipt (`CredentialIssued`, then `CredentialProvisioned`):
   * the server keeps no key of it to find the credential by, so this is what a start finds a run cut between the two
   * appends by, as it finds a PSK's by its pending copy. Written before the first append; `endKeyPairRun` once the run's
   * outcome is recorded. One still there at a start belongs to a run that died (`sweepCutKeyPairRuns`). Returns whether
   * this call wrote it: false when a record of the id stands already (another run's), which this run must not end.
   */
  beginKeyPairRun(credentialId: string, at: Date): boolean;
  endKeyPairRun(credentialId: string): void;
  /** The key pairs' runs begun and not ended, the oldest first. */
  keyPairRuns(): KeyPairRun[];
}

/** A key pair's remote provisioning run whose outcome was not recorded when it began (KeyRegistry.beginKeyPairRun). */
export interface KeyPairRun {
  readonly credentialId: string;
  readonly beganAt: Date;
}

/** A key the shredder failed to destroy: how many times, and when last. */
export interface OwedKey extends KeyBinding {
  readonly failures: number;
  readonly lastFailedAt: Date;
}
