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
import type { EventStore, RecordedEvent } from '../../../domain/ports/event-store.ts';
import { eventIdOf, type EventTagger } from './event-id.ts';

/** Records read per step back: a page of the embedded store. */
const PAGE = 256n;

/**
 * How far back the newest told event is looked for: a rotation tick writes up to 10,000 rotations in a row
 * (projections/pseudonyms/rotation.ts tickLimit), so a tick and more. Past it the stream starts at the head, named by
 * its bare position as before, rather than hold a request for a longer read.
 */
const MAX_LOOKED_BACK = 64n * PAGE;

export interface ToldStart {
  /** The position the stream resumes strictly after. */
  readonly from: bigint;
  /** Its first frame's id: `<position>~<tag>`, or `0` where the caller is told nothing up to the head. */
  readonly id: string;
}

/**
 * The newest event at or below `head` that `tells` lets the caller see, as the stream's start; `0` (from the start of any
 * log, so a resume there skips nothing) when there is none. Undefined where it cannot be found: on a store whose
 * positions are not gapless (EventStoreDB, whose positions are no count to step back by), or past MAX_LOOKED_BACK.
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
    if (head - above >= MAX_LOOKED_BACK) return undefined;
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
