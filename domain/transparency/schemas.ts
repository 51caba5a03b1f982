import { z } from 'zod';
import type { LogJsonObject, LoggedEvent } from './leaf.ts';
import { toBase64url, tryFromBase64url } from '../crypto/base64url.ts';
import { HASH_SIZE } from './hashing.ts';

/**
 * JSON forms of what the offline verifier reads from files: events, proofs, hashes. Every one is a zod codec
 * (decode from JSON, encode back), so files are parsed at the boundary and bytes travel as base64url.
 */

export const Base64UrlBytes = z.codec(
  // 1 MiB of base64url: far above a hash, a signature or a key; a bound before any decoding.
  z.string().max(1_398_102).refine((s) => tryFromBase64url(s) !== undefined, 'not canonical unpadded base64url'),
  z.custom<Uint8Array>((v) => v instanceof Uint8Array),
  { decode: (s) => tryFromBase64url(s)!, encode: (bytes) => toBase64url(bytes) },
);

export const Hash32 = Base64UrlBytes.refine((b) => b.length === HASH_SIZE, `a hash is ${HASH_SIZE} bytes`);

// At most 20 digits: every position and revision fits an unsigned 64-bit integer (EventStoreDB's commit positions).
const Decimal = z.string().max(20).regex(/^(?:0|[1-9][0-9]*)$/, 'a decimal integer without leading zeroes');
const BigIntText = z.codec(Decimal, z.bigint().nonnegative(), {
  decode: (s) => BigInt(s),
  encode: (n) => n.toString(10),
});
const JsonRecord = z.record(z.string(), z.json());
// A custom schema, not a transform, so the codec below encodes as well as decodes.
const JsonObjectSchema = z.custom<LogJsonObject>((v) => JsonRecord.safeParse(v).success, 'expected a JSON object');
const Index = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * A stream id as files and answers carry it: bounded, and without control characters (C0, DEL, C1). Every stream
 * the product writes is `<kind>-<token>` (domain/streams.ts, domain/ids.ts), printable ASCII; a control character
 * is a forged id, and one printed raw wrote to the auditor's terminal (found in review: a bundle whose stream id
 * erased `credence verify`'s FAILED line and wrote an `ok:` line in its place).
 */
export const StreamIdText = z
  .string()
  .min(1)
  .max(300)
  .regex(/^[^\u0000-\u001f\u007f-\u009f]*$/, 'must hold no control character (C0, DEL or C1)');

/**
 * The JSON form of a stored event, bigints as decimal strings: what exports, `credence verify --event` and the HTTP
 * API (responses with events) carry. `data` and `metadata` are described as JSON objects; the file codec below checks
 * them all the way down.
 */
export const RecordedEventWire = z.object({
  position: Decimal,
  streamId: StreamIdText,
  revision: Decimal,
  id: z.string().min(1).max(64),
  type: z.string().min(1).max(128),
  data: z.record(z.string(), z.unknown()),
  metadata: z.record(z.string(), z.unknown()),
});
export type RecordedEventWire = z.infer<typeof RecordedEventWire>;

/** A stored event in its JSON form; no check, since the event is one this code stored (the codec's encode). */
export const recordedEventToJson = (e: LoggedEvent) => ({
  position: e.position.toString(10),
  streamId: e.streamId,
  revision: e.revision.toString(10),
  id: e.id,
  type: e.type,
  data: e.data,
  metadata: e.metadata,
});

const eventFileShape = { ...RecordedEventWire.shape, data: JsonObjectSchema, metadata: JsonObjectSchema };
const decodeEvent = (e: z.output<z.ZodObject<typeof eventFileShape>>): LoggedEvent => ({
  ...e,
  position: BigIntText.decode(e.position),
  revision: BigIntText.decode(e.revision),
});

/** A stored event as it appears in exports: its JSON form, every value of `data` and `metadata` checked to be JSON. */
export const RecordedEventJson = z.codec(z.object(eventFileShape), z.custom<LoggedEvent>(), { decode: decodeEvent, encode: recordedEventToJson });

/**
 * The same, refusing any member besides the seven (`unknown_member`): an event of an evidence bundle. Its leaf hash
 * (RFC 9162 2.1.1) covers the parsed event, so a member the parser dropped would be text in the file that no proof
 * covers, read by another tool as part of the event (found in review 30: such bundles verified).
 */
export const BundledEventJson = z.codec(z.strictObject(eventFileShape), z.custom<LoggedEvent>(), { decode: decodeEvent, encode: recordedEventToJson });

export interface InclusionProof {
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly hashes: readonly Uint8Array[];
}

// A proof in a tree of at most 2^53 leaves has at most 53 hashes (RFC 9162 section 2.1.3). Strict, as the event it
// proves is: a member no check reads is text in the auditor's file that nothing covers (review 88).
export const InclusionProofJson = z.strictObject({ leafIndex: Index, treeSize: Index, hashes: z.array(Hash32).max(64) });

export interface ConsistencyProof {
  readonly first: number;
  readonly second: number;
  readonly hashes: readonly Uint8Array[];
}

// Strict, as an inclusion proof is: a member no check reads is text in the auditor's file that nothing covers (review 134).
export const ConsistencyProofJson = z.strictObject({ first: Index, second: Index, hashes: z.array(Hash32).max(128) });
