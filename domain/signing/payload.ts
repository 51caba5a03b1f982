import { canonicalJson, utf8 } from '../crypto/index.ts';

/** What a request signature covers of a command: what its events record (EventMetadata), less derived data (below). */
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
 * Fields of a command's data that the service derives, not the signer: left out of what a version 2 signature
 * covers. SER-016: the signature attests the request, what the actor asked for. An operator's `rotatePseudonym` asks
 * for a node's next pseudonym; the pseudonym and its epoch come from the service's pseudonym key, which no client
 * holds (SER-011, SER-025). So the operator signs the node (with the command id, actor and claims of any signed
 * command), and the engine's admission checks the rest before anything is written (projections/pseudonyms/
 * derived-check.ts, rule `derived`). The trigger is left out only when it is `demand`: a signature over the node
 * alone attests a rotation on demand, the one an operator may ask for (rule `demand_only`), and no other. Left
 * out whatever its value (review 167), the re-check of a stored event verified `interval` under an operator's
 * signature over `{ nodeId }` (review 168); signed as the constant `demand` instead, the signatures `credence pseudonym
 * rotate` made over `{ nodeId }` since would no longer verify. Before, an operator would have had to sign values only
 * the service computes, so a policy requiring all commands signed left operators no rotation on demand. Kept here,
 * where signing, admission and the re-check of a stored event all take the signed form from. Per type: each derived
 * field, with when (given its value) it is left out.
 */
const SERVICE_DERIVED: { readonly [type: string]: { readonly [field: string]: (value: unknown) => boolean } | undefined } = {
  rotatePseudonym: { pseudonym: () => true, epoch: () => true, trigger: (value) => value === 'demand' },
};

/** The data a version 2 signature covers: the command's, less the fields the service derives for its type. */
const signedData = (type: string, data: unknown): unknown => {
  const derived = SERVICE_DERIVED[type];
  if (derived === undefined || typeof data !== 'object' || data === null || Array.isArray(data)) return data;
  return Object.fromEntries(Object.entries(data).filter(([field, value]) => !(Object.hasOwn(derived, field) && derived[field]!(value))));
};

/** The version 2 bytes over `data` as given. */
const payloadOver = (command: SignedCommand, data: unknown, claims: SignatureClaims): Uint8Array => {
  const { actor, commandId, correlationId, causationId } = command.metadata;
  return utf8(
    canonicalJson({
      v: 2,
      type: command.type,
      data,
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
 * The bytes an actor signs (version 2): the RFC 8785 canonical JSON of
 * `{ v: 2, type, data, actor, commandId, correlationId, causationId, issuedAt, expiresAt, audience }`, `data` less
 * what the service derives (SERVICE_DERIVED). Exactly these are recorded in the event, so anyone can re-check a
 * stored signature. The tracing ids are signed as the engine records them (the command id when the command names
 * none), so a captured request cannot be given a forged causation; `v` separates these bytes from any other
 * version's.
 */
export const signingPayload = (command: SignedCommand, claims: SignatureClaims): Uint8Array =>
  payloadOver(command, signedData(command.type, command.data), claims);

/**
 * The version 2 bytes of a stored event signed before its type left derived fields out: over the whole data. Only
 * re-checked on stored events, never accepted on a new command, as version 1. Until the rotation route took a
 * signature, an operator's `rotatePseudonym` could still be signed so, sent to POST /v1/commands with a pseudonym
 * of its own (before rule `derived` and route `own_route`) or by a library caller holding the pseudonym key; such a
 * record stays `verified`. Undefined when the type leaves nothing out (its one form is `signingPayload`'s).
 */
export const signingPayloadWholeData = (command: SignedCommand, claims: SignatureClaims): Uint8Array | undefined =>
  SERVICE_DERIVED[command.type] === undefined ? undefined : payloadOver(command, command.data, claims);

/**
 * The bytes of a version 1 signature (events stored before version 2): the canonical JSON of
 * `{ type, data, actor, commandId }`. Only re-checked on stored events, never accepted on a new command.
 */
export const signingPayloadV1 = (command: SignedCommand): Uint8Array =>
  utf8(canonicalJson({ type: command.type, data: command.data, actor: command.metadata['actor'], commandId: command.metadata['commandId'] }));
