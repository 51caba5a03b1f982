import { canonicalJson, utf8 } from '../crypto/index.ts';

/** What a request signature covers of a command: exactly what its events record (EventMetadata). */
export interface SignedCommand {
  readonly type: string;
  readonly data: unknown;
  readonly metadata: { readonly [field: string]: unknown };
}

/** The claims a version 2 signature adds to the command: who it is for and when it is valid. */
export interface SignatureClaims {
  /** ISO 8601 instants, as the signature records them. */
  readonly issuedAt: string;
  readonly expiresAt: string;
  /** The deployment the request is addressed to. */
  readonly audience: string;
}

/**
 * The bytes an actor signs (version 2): the RFC 8785 canonical JSON of
 * `{ v: 2, type, data, actor, commandId, correlationId, causationId, issuedAt, expiresAt, audience }`.
 * Exactly these are recorded in the event, so anyone can re-check a stored signature. The tracing ids are signed
 * as the engine records them (the command id when the command names none), so a captured request cannot be
 * given a forged causation; `v` separates these bytes from any other version's.
 */
export const signingPayload = (command: SignedCommand, claims: SignatureClaims): Uint8Array => {
  const { actor, commandId, correlationId, causationId } = command.metadata;
  return utf8(
    canonicalJson({
      v: 2,
      type: command.type,
      data: command.data,
      actor,
      commandId,
      correlationId: correlationId ?? commandId,
      causationId: causationId ?? commandId,
      issuedAt: claims.issuedAt,
      expiresAt: claims.expiresAt,
      audience: claims.audience,
    }),
  );
};

/**
 * The bytes of a version 1 signature (events stored before version 2): the canonical JSON of
 * `{ type, data, actor, commandId }`. Only re-checked on stored events, never accepted on a new command.
 */
export const signingPayloadV1 = (command: SignedCommand): Uint8Array =>
  utf8(canonicalJson({ type: command.type, data: command.data, actor: command.metadata['actor'], commandId: command.metadata['commandId'] }));
