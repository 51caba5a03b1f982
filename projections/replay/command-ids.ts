import { sha256, utf8 } from '../../domain/crypto/index.ts';
import { z } from 'zod';
import { fromBase64url, toBase64url } from '../../domain/crypto/base64url.ts';

/** Bytes per digest: a command id's 128 bits. */
export const COMMAND_DIGEST_BYTES = 16;

/** A lower-case hex digit's value, or -1 (`0`-`9` are 48-57, `a`-`f` 97-102). */
const hexValue = (code: number): number => (code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : -1);

/** The 16 bytes of a lower-case UUID (8-4-4-4-12 hex digits), as a flat one-byte string; undefined for any other id. */
const uuidBytes = (id: string): string | undefined => {
  if (id.length !== 36 || id.charCodeAt(8) !== 45 || id.charCodeAt(13) !== 45 || id.charCodeAt(18) !== 45 || id.charCodeAt(23) !== 45) return undefined;
  const b: number[] = [];
  for (let i = 0; i < 36; i += 2) {
    if (i === 8 || i === 13 || i === 18 || i === 23) i++;
    const high = hexValue(id.charCodeAt(i));
    const low = hexValue(id.charCodeAt(i + 1));
    if (high < 0 || low < 0) return undefined;
    b.push((high << 4) | low);
  }
  return String.fromCharCode(b[0]!, b[1]!, b[2]!, b[3]!, b[4]!, b[5]!, b[6]!, b[7]!, b[8]!, b[9]!, b[10]!, b[11]!, b[12]!, b[13]!, b[14]!, b[15]!);
};

/**
 * A command id as 16 bytes, held as a string of 16 one-byte characters (a third of the id's own string): a lower-case
 * UUID is its own 128 bits, exactly; any other id (another case, which is another command: ids are compared as sent)
 * the first 16 bytes of its SHA-256, which no UUID's bits meet but by a chance of 2^-128.
 */
export const commandDigest = (commandId: string): string =>
  uuidBytes(commandId) ?? String.fromCharCode(...sha256(utf8(`credence/replay/command-id:${commandId}`)).subarray(0, COMMAND_DIGEST_BYTES));

/** Whether the command id of a record at `position` was recorded by an earlier record (verifier.ts apply). */
export interface CommandRecords {
  recordedBefore(commandId: string, position: bigint): boolean;
}

/** Sets per digest's last byte: a V8 Set holds at most 2^24 entries, a store of a few hundred million events fits. */
const SHARDS = 64;
/** Digests per chunk of a checkpoint's `commandIds` (1 MiB of digests, 1.4 million characters). */
const PER_CHUNK = 65_536;
/** The most chunks a checkpoint holds (its schema's bound). */
export const MAX_COMMAND_ID_CHUNKS = 20_000;

/** The digest of 16 bytes at `at` of `b`, as commandDigest holds it (16 arguments: no spread of a subarray). */
const digestAt = (b: Uint8Array, at: number): string =>
  String.fromCharCode(
    b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!,
    b[at + 8]!, b[at + 9]!, b[at + 10]!, b[at + 11]!, b[at + 12]!, b[at + 13]!, b[at + 14]!, b[at + 15]!,
  );

/** `digests` (16 one-byte characters each), PER_CHUNK to a base64url string. */
const chunksOf = (digests: Iterable<string>, count: number): string[] => {
  const chunks: string[] = [];
  let left = count;
  let bytes = new Uint8Array(Math.min(PER_CHUNK, left) * COMMAND_DIGEST_BYTES);
  let at = 0;
  for (const digest of digests) {
    for (let i = 0; i < COMMAND_DIGEST_BYTES; i++) bytes[at++] = digest.charCodeAt(i);
    if (at === bytes.length) {
      chunks.push(toBase64url(bytes));
      left -= at / COMMAND_DIGEST_BYTES;
      bytes = new Uint8Array(Math.min(PER_CHUNK, left) * COMMAND_DIGEST_BYTES);
      at = 0;
    }
  }
  return chunks;
};

/** A base64url letter's value, or -1. */
const letterValue = (code: number): number =>
  code >= 65 && code <= 90 ? code - 65 : code >= 97 && code <= 122 ? code - 71 : code >= 48 && code <= 57 ? code + 4 : code === 45 ? 62 : code === 95 ? 63 : -1;

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * How many bytes `text` encodes when it is canonical unpadded base64url (tryFromBase64url's rule: no other letter, no
 * length of 4n+1, the bits past the last byte zero), told without decoding it; else undefined. A checkpoint's chunks
 * are decoded once, when the verifier is built (review: the schema's check decoded and re-encoded each, then the
 * verifier decoded it again).
 */
const canonicalBytes = (text: string): number | undefined => {
  if (text.length % 4 === 1 || !BASE64URL.test(text)) return undefined;
  const tail = text.length % 4;
  if (tail !== 0 && (letterValue(text.charCodeAt(text.length - 1)) & (tail === 2 ? 0x0f : 0x03)) !== 0) return undefined;
  return Math.floor((text.length * 3) / 4);
};

/**
 * Every command id recorded so far, store-wide, one compact digest each (commandDigest), in position order: the first
 * record of a command id takes it, any later one is a command recorded again (review 420). A command is one event
 * (domain/commands/decide.ts) and its id is bound to one append store-wide (the embedded store's commands table,
 * EventStoreDB's claim stream), so no record the engine wrote meets one taken.
 */
export class CommandIds implements CommandRecords {
  readonly #shards: Set<string>[] = Array.from({ length: SHARDS }, () => new Set<string>());
  #size = 0;
  /**
   * Read back from a checkpoint (fromChunks): its whole chunks, written back as they are, and the digests taken since
   * (with those of its last chunk when it was not whole), the only ones encoded again.
   */
  #kept: { readonly chunks: readonly string[]; readonly since: string[] } | undefined;

  get size(): number {
    return this.#size;
  }

  recordedBefore(commandId: string): boolean {
    return this.takeDigest(commandDigest(commandId));
  }

  /** Takes `digest`; true when it was taken already. */
  takeDigest(digest: string): boolean {
    const shard = this.#shards[digest.charCodeAt(digest.length - 1) % SHARDS]!;
    if (shard.has(digest)) return true;
    shard.add(digest);
    this.#size++;
    this.#kept?.since.push(digest);
    return false;
  }

  /** For a checkpoint: the digests, PER_CHUNK to a base64url string (the chunks it was read from as they were). */
  toChunks(): string[] {
    const kept = this.#kept;
    if (kept !== undefined) {
      const more = chunksOf(kept.since, kept.since.length);
      if (kept.chunks.length + more.length <= MAX_COMMAND_ID_CHUNKS) return [...kept.chunks, ...more];
    }
    return chunksOf((function* (shards) { for (const shard of shards) yield* shard; })(this.#shards), this.#size);
  }

  /**
   * Read back from a checkpoint's chunks (their shape is its schema's), each decoded once. The chunks before the last
   * whole one are kept to be written back as they are; a last chunk not whole is merged with the digests taken after
   * it, so that the chunks stay whole but the last, and their count never grows past what the digests fill.
   */
  static fromChunks(chunks: readonly string[]): CommandIds {
    const ids = new CommandIds();
    const since: string[] = [];
    let whole = chunks.length;
    for (let c = 0; c < chunks.length; c++) {
      const bytes = fromBase64url(chunks[c]!, 'commandIds');
      const last = c === chunks.length - 1 && bytes.length < PER_CHUNK * COMMAND_DIGEST_BYTES;
      if (last) whole = c;
      for (let at = 0; at + COMMAND_DIGEST_BYTES <= bytes.length; at += COMMAND_DIGEST_BYTES) {
        const digest = digestAt(bytes, at);
        if (!ids.takeDigest(digest) && last) since.push(digest);
      }
    }
    ids.#kept = { chunks: chunks.slice(0, whole), since };
    return ids;
  }
}

/** A checkpoint's chunk of digests: canonical unpadded base64url of whole digests, at most PER_CHUNK of them. */
export const CommandIdsChunk = z
  .string()
  .max(Math.ceil((PER_CHUNK * COMMAND_DIGEST_BYTES * 4) / 3))
  .refine((chunk) => (canonicalBytes(chunk) ?? 1) % COMMAND_DIGEST_BYTES === 0, 'must be whole command id digests in base64url');

/**
 * The command ids of a replay's partitions, each in position order (a partition's events, 16 bytes each in `digests`),
 * taken in global order as one pass takes them: every command id recorded, and per partition the positions of its
 * events whose id an earlier event of any partition holds (a command recorded again on another stream is seen so,
 * partitions being by stream). A position twice or out of order fails: the partitions are not one log's.
 */
export const commandIdsAcross = (
  partitions: readonly { readonly positions: BigInt64Array; readonly digests: Uint8Array }[],
): { readonly ids: CommandIds; readonly repeats: BigInt64Array[] } => {
  const ids = new CommandIds();
  const repeats: bigint[][] = partitions.map(() => []);
  const next = partitions.map(() => 0);
  let previous = -1n;
  for (;;) {
    let from = -1;
    for (let i = 0; i < partitions.length; i++) {
      if (next[i]! < partitions[i]!.positions.length && (from < 0 || partitions[i]!.positions[next[i]!]! < partitions[from]!.positions[next[from]!]!)) from = i;
    }
    if (from < 0) break;
    const at = next[from]!++;
    const position = partitions[from]!.positions[at]!;
    if (position <= previous) throw new Error(`replay partitions hold an event at position ${position} twice or out of order`);
    previous = position;
    if (ids.takeDigest(digestAt(partitions[from]!.digests, at * COMMAND_DIGEST_BYTES))) repeats[from]!.push(position);
  }
  return { ids, repeats: repeats.map((r) => BigInt64Array.from(r)) };
};
