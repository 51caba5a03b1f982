/**
 * Where a canonical stream opened `from=end` starts, and the id its first frame names (review 241). The log's newest
 * record is very often one the caller is not told (a `PseudonymRotated`, review 223), whose tag the stream may not hand
 * out (a plain hash of its event id would test a guessed one): the stream named the bare position there, which a
 * client cut before its first event resumed with, unchecked, and so on a store restored from a backup whose log had
 * grown past it skipped events without a word. It starts instead after the newest event at or below the head that
 * the caller is told, named with its tag, the id form checked against the log: what lies between is withheld from
 * the caller anyway, so nothing is repeated and nothing told that was not.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { EVENT_KIND, EVENT_TYPES } from '../../../domain/events/index.ts';
import type { EventStore, RecordedEvent } from '../../../domain/ports/event-store.ts';
import { eventIdOf, type EventTagger } from './event-id.ts';

/** Records read per step back: a page of the embedded store. */
const PAGE = 256n;

/**
 * How far back the newest told event is looked for record by record: a rotation tick writes up to 10,000 rotations in
 * a row (projections/pseudonyms/rotation.ts tickLimit), so a tick and more. Past it (a whole class's rotations come due
 * at one boundary: review 334, a class of some 16,000 nodes and more) the event is searched for by type instead.
 */
const MAX_LOOKED_BACK = 64n * PAGE;

/**
 * The event types of every entity but a pseudonym: an event of one is told to every canonical reader (unless stored in
 * a pseudonym's stream behind the engine, which `tells` still judges). The embedded store reads them through its
 * (type, position) index, a few entries per type for a read of one event, however many rotations lie between.
 */
const TYPES_OF_NO_PSEUDONYM = EVENT_TYPES.filter((type) => EVENT_KIND[type] !== 'pseudonym');

/** How many events of those types that `tells` withholds (stored behind the engine) are passed over before giving up. */
const MAX_WITHHELD_OF_THOSE_TYPES = 8;

/** The first event of TYPES_OF_NO_PSEUDONYM after `after`, if any at or below `atMost`. */
const firstOfThoseTypes = async (store: EventStore, after: bigint, atMost: bigint): Promise<RecordedEvent | undefined> => {
  for await (const record of store.readAll({ afterPosition: after, filter: { eventTypes: TYPES_OF_NO_PSEUDONYM }, maxCount: 1 })) {
    return record.position <= atMost ? record : undefined;
  }
  return undefined;
};

/**
 * The newest event of TYPES_OF_NO_PSEUDONYM at or below `atMost`, found by bisecting on where the first one after a
 * position lies: one read of one event per halving, some 60 reads at most (positions are below 2^63), where a walk back
 * would read every rotation between.
 */
const newestOfThoseTypes = async (store: EventStore, atMost: bigint): Promise<RecordedEvent | undefined> => {
  let found = await firstOfThoseTypes(store, 0n, atMost);
  if (found === undefined) return undefined;
  // One is at `found`; none is known past `high`.
  let high = atMost;
  while (found.position < high) {
    const mid = (found.position + high + 1n) / 2n;
    const next = await firstOfThoseTypes(store, mid - 1n, atMost);
    if (next === undefined) high = mid - 1n;
    else found = next;
    await yieldToLoop();
  }
  return found;
};

export interface ToldStart {
  /** The position the stream resumes strictly after. */
  readonly from: bigint;
  /** Its first frame's id: `<position>~<tag>`, or `0` where the caller is told nothing up to the head. */
  readonly id: string;
}

/**
 * The newest event at or below `head` that `tells` lets the caller see, as the stream's start; `0` (from the start of any
 * log, so a resume there skips nothing) when there is none. Undefined where it cannot be found: on a store whose
 * positions are not gapless (EventStoreDB, whose positions are no count to step back by).
 */
export const toldStartAtOrBelow = async (
  store: EventStore,
  head: bigint,
  tells: (record: RecordedEvent) => Promise<boolean>,
  tagOf: EventTagger,
): Promise<ToldStart | undefined> => {
  if (store.gapless !== true) return undefined;
  // The head alone first: most often it is told, and a stream from the end then reads one record, as before.
  for (let above = head, step = 1n; above > 0n; above -= step, step = PAGE) {
    if (head - above >= MAX_LOOKED_BACK) return toldOfThoseTypesAtOrBelow(store, above, tells, tagOf);
    const below = above > step ? above - step : 0n;
    const page: RecordedEvent[] = [];
    // Every position holds a record on a gapless store, so this reads exactly (below, above].
    for await (const record of store.readAll({ afterPosition: below, maxCount: Number(above - below) })) {
      if (record.position <= above) page.push(record);
    }
    for (const record of page.reverse()) if (await tells(record)) return { from: record.position, id: eventIdOf(record, tagOf) };
    // A page read synchronously never lets the event loop turn (../../../projections/streams/paced.ts).
    await yieldToLoop();
  }
  return { from: 0n, id: '0' };
};

/**
 * Past MAX_LOOKED_BACK: the newest event at or below `atMost` of an entity other than a pseudonym that `tells` lets the
 * caller see. An event the caller is told that is no such one (for an auditor, a resolved pseudonym's) may lie between
 * it and the head: the stream then starts before it and tells it, so nothing is skipped, and its start is still named
 * with its tag. Undefined after MAX_WITHHELD_OF_THOSE_TYPES such events withheld, each a history written around the
 * engine: the stream then starts at the head by its bare position, as before.
 */
const toldOfThoseTypesAtOrBelow = async (store: EventStore, atMost: bigint, tells: (record: RecordedEvent) => Promise<boolean>, tagOf: EventTagger): Promise<ToldStart | undefined> => {
  let below = atMost;
  for (let withheld = 0; withheld <= MAX_WITHHELD_OF_THOSE_TYPES; withheld++) {
    const record = await newestOfThoseTypes(store, below);
    if (record === undefined) return { from: 0n, id: '0' };
    if (await tells(record)) return { from: record.position, id: eventIdOf(record, tagOf) };
    below = record.position - 1n;
  }
  return undefined;
};
