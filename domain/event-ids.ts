import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';


/**
 * Event ids derived from the command id and the event's index: a retried append carries the same ids, which
 * is what makes it idempotent on EventStoreDB as well as on the embedded store. Formatted as an RFC 9562
 * version 8 (custom) UUID.
 */
export const eventIdFor = (commandId: string, index: number): string => {
  const h = sha256(utf8ToBytes(`credence/event-id/v1:${commandId}:${index}`)).slice(0, 16);
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = bytesToHex(h);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
};

/** A command id derived from a name and a source (process-manager reactions): re-processing yields the same id. */
export const derivedCommandId = (name: string, source: string): string => eventIdFor(`${name}|${source}`, 0);
