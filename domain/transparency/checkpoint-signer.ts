/**
 * What signs checkpoints: the log's Ed25519 key. It lives in the Secure Environment when there is one (seed 004:
 * keys stay in the Secure Environment, callers hold handles) and in a key file until then. The secret never
 * crosses this interface; only signatures and the public key do.
 */
export interface CheckpointSigner {
  /** Signed-note key name; by convention the log origin (tlog-checkpoint, Signatures). */
  readonly keyName: string;
  /** 32-byte Ed25519 public key (RFC 8032). */
  readonly publicKey: Uint8Array;
  /** Ed25519 signature over the bytes (the checkpoint note text). */
  sign(message: Uint8Array): Promise<Uint8Array>;
}
