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
 *     withheld <reason> <revisions>          (only when the stream has records a bundle withholds)
 *
 * The withheld line (found in review after review 172) is the log's word on which revisions every bundle carries
 * withheld (leaf hash and proof, no record) and why: without it a verifier took any entry as withheld, and whoever
 * passed a bundle on could hide a NodeRevoked as a "withheld" leaf of the same hash. `<revisions>` are ascending
 * ranges, `3` or `5-7`, comma-separated, adjacent ones merged (one canonical form); one line per reason, in the order
 * of WITHHELD_REASONS. A stream with none has no such line, so its head is byte for byte what it always was; a
 * verifier older than the line refuses a head that has one (it reads exactly five lines) rather than ignore it.
 */

export const STREAM_HEAD_LABEL = 'credence-stream-head/v1';

/** Why a record is withheld from every bundle (bundle.ts says it to a person): the reasons a stream head can sign. */
export const WITHHELD_REASONS = ['pseudonym_claimant'] as const;
export type WithheldReason = (typeof WITHHELD_REASONS)[number];

/** Revisions `first` to `last` (both included) that every bundle of the stream carries withheld, and why. */
export interface WithheldRevisions {
  readonly reason: WithheldReason;
  readonly first: number;
  readonly last: number;
}

export interface StreamHead {
  readonly origin: string;
  readonly treeSize: number;
  readonly rootHash: Uint8Array;
  readonly streamId: string;
  /** Events of the stream among the first `treeSize` leaves: revisions 0 to events - 1. */
  readonly events: number;
  /** Merkle tree hash (RFC 9162 section 2.1.1) of those events' leaf hashes, in revision order. */
  readonly streamRoot: Uint8Array;
  /** Revisions withheld from every bundle, ascending, none overlapping; absent or empty: none (no line). */
  readonly withheld?: readonly WithheldRevisions[];
}

/** Revisions (ascending, distinct) and their reasons as the ranges a stream head signs: adjacent ones merged. */
export const withheldRanges = (revisions: Iterable<{ readonly revision: number; readonly reason: WithheldReason }>): WithheldRevisions[] => {
  const ranges: { reason: WithheldReason; first: number; last: number }[] = [];
  for (const { revision, reason } of revisions) {
    const last = ranges.at(-1);
    if (last !== undefined && last.reason === reason && last.last + 1 === revision) last.last = revision;
    else ranges.push({ reason, first: revision, last: revision });
  }
  return ranges;
};

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
    `events ${head.events} ${toBase64(head.streamRoot)}\n` +
    withheldLines(head.withheld ?? [], head.events)
  );
};

const withheldLines = (withheld: readonly WithheldRevisions[], events: number): string => {
  let next = 0;
  for (const r of withheld) {
    if (!WITHHELD_REASONS.includes(r.reason)) throw new Error('withheld: unknown reason');
    if (!isCount(r.first) || !isCount(r.last) || r.first < next || r.last < r.first || r.last >= events) {
      throw new Error('withheld: expected ascending, disjoint revision ranges below events');
    }
    next = r.last + 1;
  }
  return WITHHELD_REASONS.map((reason) => {
    const ranges = withheld.filter((r) => r.reason === reason);
    for (let i = 1; i < ranges.length; i++) {
      if (ranges[i]!.first === ranges[i - 1]!.last + 1) throw new Error('withheld: adjacent ranges of one reason are written merged');
    }
    return ranges.length === 0 ? '' : `withheld ${reason} ${ranges.map((r) => (r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`)).join(',')}\n`;
  }).join('');
};

/** Parses a withheld line's reason and ranges; undefined when it is not one (canonical order is checked by re-formatting). */
const parseWithheldLine = (line: string, events: number): WithheldRevisions[] | undefined => {
  const [keyword, reason, ranges, ...rest] = line.split(' ');
  if (keyword !== 'withheld' || ranges === undefined || rest.length > 0) return undefined;
  if (!(WITHHELD_REASONS as readonly string[]).includes(reason!)) return undefined;
  const parsed: WithheldRevisions[] = [];
  const pieces = ranges.split(',');
  // Canonical ranges are disjoint and apart, so fewer than the events; more is malformed, refused before any is read.
  if (pieces.length > events) return undefined;
  for (const range of pieces) {
    const [firstText, lastText, ...more] = range.split('-');
    const first = count(firstText);
    const last = lastText === undefined ? first : count(lastText);
    // Bounded by the count the head signs: a range is two numbers, never expanded here.
    if (more.length > 0 || first === undefined || last === undefined || last >= events) return undefined;
    parsed.push({ reason: reason as WithheldReason, first, last });
  }
  return parsed;
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
  if (lines.length < 5 || lines.length > 5 + WITHHELD_REASONS.length || lines[0] !== STREAM_HEAD_LABEL) {
    return { ok: false, reason: `a stream head is five lines, the first ${STREAM_HEAD_LABEL}, then a withheld line per reason withheld` };
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
  const withheld: WithheldRevisions[] = [];
  for (const line of lines.slice(5)) {
    const ranges = parseWithheldLine(line, events);
    if (ranges === undefined) return { ok: false, reason: `a withheld line is withheld, one of ${WITHHELD_REASONS.join(', ')}, and revision ranges below the event count` };
    // One at a time: a spread of some 120,000 ranges overflowed the stack, an untyped RangeError (review 180).
    for (const range of ranges) withheld.push(range);
  }
  withheld.sort((a, b) => a.first - b.first);
  const head: StreamHead = { origin, treeSize, rootHash, streamId, events, streamRoot, withheld };
  try {
    if (formatStreamHeadText(head) === text) return { ok: true, head };
  } catch {
    // An invalid field (origin, stream id, a count past the tree size) is a malformed head, not an error.
  }
  return { ok: false, reason: 'the stream head is not in its one canonical form' };
};
