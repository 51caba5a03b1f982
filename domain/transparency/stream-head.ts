import { fromBase64, toBase64 } from './bytes.ts';
import { HASH_SIZE } from './hashing.ts';
import { rootOfLeafHashes } from './frontier.ts';
import { isValidKeyName, KEY_NAME_RULE } from './note.ts';

/**
 * A stream head (issue 10 item 4): the log's signed statement that, in the tree of `treeSize` leaves with root
 * `rootHash`, the stream `streamId` has exactly `events` events (revisions 0 to events - 1) and that their leaf
 * hashes, in revision order, have the RFC 9162 Merkle tree hash `streamRoot`. A Merkle log proves that an event is
 * in it, never that no other event of the stream is: this statement is what makes an evidence bundle complete, and
 * a false one is a signed, provable lie (any copy of the log shows the leaf it left out).
 *
 * It is a C2SP signed note signed with the log key, whose text can never be read as a checkpoint (its second line
 * is not a tree size) nor a checkpoint as a stream head (its first line is fixed):
 *
 *     credence-stream-head/v1
 *     origin <log origin>
 *     tree <tree size> <base64 root hash>
 *     stream <stream id>
 *     events <count> <base64 stream root>
 */

export const STREAM_HEAD_LABEL = 'credence-stream-head/v1';

export interface StreamHead {
  readonly origin: string;
  readonly treeSize: number;
  readonly rootHash: Uint8Array;
  readonly streamId: string;
  /** Events of the stream among the first `treeSize` leaves: revisions 0 to events - 1. */
  readonly events: number;
  /** Merkle tree hash (RFC 9162 section 2.1.1) of those events' leaf hashes, in revision order. */
  readonly streamRoot: Uint8Array;
}

/** The tree hash of a stream's leaf hashes in revision order, as a stream head signs it. */
export const streamRootOf = (leafHashes: Iterable<Uint8Array>): Uint8Array => rootOfLeafHashes(leafHashes).root;

// Notes hold no control character but newline (signed-note, Format); a stream id is written verbatim, and printed:
// no C1 control either (as RecordedEventWire.streamId).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]|\p{Surrogate}/u;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

export const formatStreamHeadText = (head: StreamHead): string => {
  if (!isValidKeyName(head.origin)) throw new Error(`origin: ${KEY_NAME_RULE}`);
  if (!isCount(head.treeSize)) throw new Error('treeSize: expected a non-negative safe integer');
  if (head.rootHash.length !== HASH_SIZE) throw new Error(`rootHash: expected ${HASH_SIZE} bytes`);
  if (head.streamId.length === 0 || CONTROL.test(head.streamId)) throw new Error('streamId: must be non-empty without control characters');
  if (!isCount(head.events) || head.events > head.treeSize) throw new Error('events: expected a count no larger than treeSize');
  if (head.streamRoot.length !== HASH_SIZE) throw new Error(`streamRoot: expected ${HASH_SIZE} bytes`);
  return (
    `${STREAM_HEAD_LABEL}\n` +
    `origin ${head.origin}\n` +
    `tree ${head.treeSize} ${toBase64(head.rootHash)}\n` +
    `stream ${head.streamId}\n` +
    `events ${head.events} ${toBase64(head.streamRoot)}\n`
  );
};

export type StreamHeadParse = { readonly ok: true; readonly head: StreamHead } | { readonly ok: false; readonly reason: string };

const count = (text: string | undefined): number | undefined => {
  if (text === undefined || !DECIMAL.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
};

const hash = (text: string | undefined): Uint8Array | undefined => {
  const bytes = text === undefined ? undefined : fromBase64(text);
  return bytes?.length === HASH_SIZE ? bytes : undefined;
};

/** Parses the signed text of a stream head note. Strict: a text that does not re-format to itself is refused. */
export const parseStreamHeadText = (text: string): StreamHeadParse => {
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : [];
  if (lines.length !== 5 || lines[0] !== STREAM_HEAD_LABEL) {
    return { ok: false, reason: `a stream head is five lines, the first ${STREAM_HEAD_LABEL}` };
  }
  const field = (line: string, name: string): string | undefined => (line.startsWith(`${name} `) ? line.slice(name.length + 1) : undefined);
  const origin = field(lines[1]!, 'origin');
  const [sizeText, rootText, ...restTree] = field(lines[2]!, 'tree')?.split(' ') ?? [];
  const streamId = field(lines[3]!, 'stream');
  const [eventsText, streamRootText, ...restEvents] = field(lines[4]!, 'events')?.split(' ') ?? [];
  const treeSize = count(sizeText);
  const rootHash = hash(rootText);
  const events = count(eventsText);
  const streamRoot = hash(streamRootText);
  if (origin === undefined || streamId === undefined || restTree.length > 0 || restEvents.length > 0) {
    return { ok: false, reason: 'a stream head needs origin, tree, stream and events lines, in that order' };
  }
  if (treeSize === undefined || rootHash === undefined) return { ok: false, reason: 'the tree line is not a tree size and a 32-byte base64 root' };
  if (events === undefined || streamRoot === undefined) return { ok: false, reason: 'the events line is not a count and a 32-byte base64 root' };
  const head: StreamHead = { origin, treeSize, rootHash, streamId, events, streamRoot };
  try {
    if (formatStreamHeadText(head) === text) return { ok: true, head };
  } catch {
    // An invalid field (origin, stream id, a count past the tree size) is a malformed head, not an error.
  }
  return { ok: false, reason: 'the stream head is not in its one canonical form' };
};
