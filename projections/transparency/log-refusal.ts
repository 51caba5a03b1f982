import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { constantTimeEqual, toHex } from '../../domain/crypto/index.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import type { LoggedLeaf, LogRefusal, TransparencyLogStore } from '../../domain/ports/transparency-log.ts';
import { eventLeafHash } from '../../domain/transparency/leaf.ts';
import { recordAtPosition } from '../runtime/log-check.ts';
import { readPage } from '../runtime/read-page.ts';
import { isOwnLeaf } from './resume-point.ts';

/**
 * The transparency log has logged an event the store does not hold at its position: the event store was restored
 * from a backup older than the log, or the data folder was given another fleet's events. Unlike a read model, the
 * log is append-only and signed, so it is never rebuilt: it stops, rather than skip the events now stored at
 * positions it has logged (README.md, "Restoring the event store from a backup").
 */
export class TransparencyLogOfAnotherLog extends Error {
  readonly code = 'transparency_log_of_another_log';

  constructor(readonly detail: string) {
    super(
      `the transparency log holds events the event store does not (${detail}): restore the event store from a backup ` +
        'that holds every logged event, or start a new log under a new key: with the service stopped, move aside together ' +
        'transparency.db (with its -wal and -shm), transparency.key or transparency.handle, and transparency.pub ' +
        '(README, "Restoring the event store from a backup", step 4); transparency.db alone would start the new log under ' +
        'the old key, whose checkpoints auditors keep (refused at the next start)',
    );
    this.name = 'TransparencyLogOfAnotherLog';
  }
}

/** Where the whole log and the store part: a leaf whose event the store does not hold, or an event the log skipped. */
export type LeafNotInStore =
  | { readonly kind: 'other-event'; readonly leaf: LoggedLeaf; readonly found: Uint8Array | undefined }
  | { readonly kind: 'skipped'; readonly position: bigint };

/** The refusal to keep for `leaf`, the log's newest, not in the store: the leaf hash of what the store holds there. */
export const refusalOf = async (store: EventStore, leaf: LoggedLeaf, refusedAt: Date): Promise<LogRefusal> => {
  const stored = await recordAtPosition(store, leaf.position);
  return {
    leafIndex: leaf.leafIndex,
    position: leaf.position,
    expectedLeafHash: leaf.leafHash,
    ...(stored !== undefined ? { foundLeafHash: eventLeafHash(stored) } : {}),
    refusedAt: refusedAt.toISOString(),
  };
};

/**
 * Every leaf against the event the store holds at its position, walked together in pages of `pageSize`: the first
 * place they part, or undefined when the store holds exactly the logged history up to the newest leaf (the events
 * after it are not logged yet). What lifts a kept refusal: the newest leaf alone can match a store whose earlier
 * events differ (a restore with the clock set back, a crafted events.db).
 */
export const firstLeafNotInStore = async (
  store: EventStore,
  log: Pick<TransparencyLogStore, 'leaves' | 'lastPosition'>,
  pageSize: number,
): Promise<LeafNotInStore | undefined> => {
  const last = log.lastPosition();
  if (last === undefined) return undefined;
  const leaves = log.leaves()[Symbol.iterator]();
  let leaf = leaves.next();
  // Another application's record logged, then scavenged from a store that is not gapless (review 179): it is
  // passed over, as its absence says nothing of this log.
  const gone = (l: LoggedLeaf): boolean => store.gapless !== true && !isOwnLeaf(l);
  let after: bigint | undefined;
  while (!leaf.done) {
    const page = await readPage(store, { ...(after !== undefined ? { afterPosition: after } : {}), maxCount: pageSize });
    while (page.length === 0 && !leaf.done && gone(leaf.value)) leaf = leaves.next();
    if (leaf.done) return undefined;
    if (page.length === 0) return { kind: 'other-event', leaf: leaf.value, found: undefined };
    for (const event of page) {
      while (!leaf.done && event.position > leaf.value.position && gone(leaf.value)) leaf = leaves.next();
      if (leaf.done) return undefined;
      if (event.position < leaf.value.position) return { kind: 'skipped', position: event.position };
      if (event.position > leaf.value.position) return { kind: 'other-event', leaf: leaf.value, found: undefined };
      const found = eventLeafHash(event);
      if (!constantTimeEqual(found, leaf.value.leafHash)) return { kind: 'other-event', leaf: leaf.value, found };
      leaf = leaves.next();
    }
    after = page[page.length - 1]!.position;
    // The embedded store reads and the hashes are computed synchronously: the probes answer between pages.
    await yieldToLoop();
  }
  return undefined;
};

const heldThere = (found: Uint8Array | undefined): string => (found === undefined ? 'no event' : `an event of leaf hash ${toHex(found)}`);

/** One line for a log, an error or an audit: positions and hashes, nothing else of the events. */
export const describeRefusal = (r: LogRefusal): string =>
  `at ${r.refusedAt} the store held ${heldThere(r.foundLeafHash)} at position ${r.position}, where leaf ${r.leafIndex} ` +
  `of the log has leaf hash ${toHex(r.expectedLeafHash)}`;

export const describeLeafNotInStore = (n: LeafNotInStore): string =>
  n.kind === 'skipped'
    ? `the store holds an event at position ${n.position}, which the log never logged`
    : `the store holds ${heldThere(n.found)} at position ${n.leaf.position}, where leaf ${n.leaf.leafIndex} of the log has leaf hash ${toHex(n.leaf.leafHash)}`;

/** The detail of a refusal kept from an earlier process that still holds. */
export const describeKeptRefusal = (kept: LogRefusal, now: LeafNotInStore): string =>
  `transparency: refused earlier and kept in transparency.db: ${describeRefusal(kept)}; still, ${describeLeafNotInStore(now)}`;
