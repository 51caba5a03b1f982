import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/** SHA-256 of a text's UTF-8 bytes as lowercase hex. */
export type Sha256Hex = (text: string) => string;

/** The version (8) and variant (10) nibble of the two UUID bytes they share with the digest, as hex digits. */
const VARIANT = '89ab';

/**
 * A SHA-256 digest in hex cut to an RFC 9562 version 8 (custom) UUID: its first 16 bytes, byte 6's high nibble set
 * to the version (hex digit 12) and byte 8's two high bits to the variant (hex digit 16).
 */
const uuidOfDigest = (x: string): string =>
  `${x.slice(0, 8)}-${x.slice(8, 12)}-8${x.slice(13, 16)}-${VARIANT[parseInt(x[16]!, 16) & 0x3]!}${x.slice(17, 20)}-${x.slice(20, 32)}`;

export interface EventIds {
  /**
   * Event ids derived from the command id and the event's index: a retried append carries the same ids, which
   * is what makes it idempotent on EventStoreDB as well as on the embedded store.
   */
  readonly eventIdFor: (commandId: string, index: number) => string;
  /** A command id derived from a name and a source (process-manager reactions): re-processing yields the same id. */
  readonly derivedCommandId: (name: string, source: string) => string;
}

/**
 * The id definitions over a given SHA-256: the domain's own is pure JavaScript (it runs in the browser too); the
 * command path and pseudonym rotation pass Node's native one-shot digest, some 5 µs cheaper per id, with the same ids.
 */
export const eventIdsWith = (sha256Hex: Sha256Hex): EventIds => {
  const eventIdFor = (commandId: string, index: number): string => uuidOfDigest(sha256Hex(`credence/event-id/v1:${commandId}:${index}`));
  return { eventIdFor, derivedCommandId: (name, source) => eventIdFor(`${name}|${source}`, 0) };
};

export const { eventIdFor, derivedCommandId } = eventIdsWith((text) => bytesToHex(sha256(utf8ToBytes(text))));

/**
 * Whether `commandId` is in the engine's own space: a version 8 UUID (its version digit, the 13th hex digit, is 8),
 * the form of every id derived above. An engine refuses such an id from any sender but the system
 * (adapters/engine/admission.ts): it is computable ahead of the reaction it belongs to.
 */
export const isDerivedCommandId = (commandId: string): boolean => commandId.charAt(14) === '8';

/**
 * A command id a client derives from what its command does, so that a rerun sends the same one (`device init`, a
 * test's fixed mix), in the form of a version 4 UUID: outside the engine's version 8 space (isDerivedCommandId).
 */
export const clientCommandId = (name: string, source: string): string => {
  const derived = derivedCommandId(`client:${name}`, source);
  return `${derived.slice(0, 14)}4${derived.slice(15)}`;
};
