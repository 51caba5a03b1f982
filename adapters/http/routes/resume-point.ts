import type { EventStore } from '../../../domain/ports/event-store.ts';
import { resumePointInLog, scavengedNoteOf } from '../../../projections/streams/resume-point.ts';
import type { Principal } from '../auth/access-control.ts';
import type { ServiceContext } from '../context.ts';
import { HttpProblem } from '../problems.ts';
import { holdsTaggedEvent, type TaggerOnDemand } from '../sse/event-id.ts';

/**
 * A resume point past the log's newest event, or on a store whose positions are not gapless (EventStoreDB) one below it
 * that is no event's own (projections/streams/resume-point.ts, by which the library's streams refuse it too), refused
 * before anything is read or taken over: 409 `resume_point_not_in_log`, naming the log's newest position. `restart` says how to start again. GET /v1/events
 * (`from` / Last-Event-ID: the pseudonymised stream would also fold identities only to the head, serving later events
 * with pseudonyms a rotation had replaced) and the compliance queries in log order (`after`: a pager took an empty
 * page past the head for "no more rows"; found in review).
 *
 * A stream's id also names the event at its position (`tagged`, ../sse/event-id.ts): at or below the head, an id
 * whose tag is not that event's is of another log (a re-created store, another instance, an older backup), refused
 * alike, where a position alone was resumed after without a word (review 185).
 *
 * A scoped principal (SER-025) is not told the head, in the body or the detail: it counts the whole fleet's events,
 * which the scope exists to keep from it (review 56). What it can still infer is in docs/service.md.
 */
export const refuseResumePointNotInLog = async (
  context: ServiceContext,
  from: unknown,
  restart: string,
  principal?: Pick<Principal, 'scope'>,
  tagged?: { readonly tag: string; readonly taggers: readonly TaggerOnDemand[] },
): Promise<void> => {
  if (typeof from !== 'bigint') return;
  const store = context.credence.store;
  const { head, why } = await resumePointInLog(store, from);
  if (why === undefined) {
    const other = await otherEventThere(store, from, tagged);
    if (other === undefined) return;
    // Its detail says nothing of the head, which only an unscoped principal is told, in the body.
    throw new HttpProblem(409, 'resume_point_not_in_log', `${other}; ${restart}`, {
      resumeAfter: from.toString(10),
      ...(principal?.scope === undefined && head !== undefined ? { head: head.toString(10) } : {}),
    });
  }
  const scavenged = scavengedNoteOf(store);
  if (principal?.scope !== undefined) {
    throw new HttpProblem(409, 'resume_point_not_in_log', `cannot resume after ${from}: it is no position of this log (a store restored from an older backup, or a position never handed out)${scavenged}; ${restart}`, {
      resumeAfter: from.toString(10),
    });
  }
  throw new HttpProblem(409, 'resume_point_not_in_log', `${why}${scavenged}; ${restart}`, {
    resumeAfter: from.toString(10),
    ...(head !== undefined ? { head: head.toString(10) } : {}),
  });
};

/**
 * Why a tagged id at or below the head is not this log's: the event at its position is not the one its tag names
 * (or none is there). Undefined for a bare position, or when the event there is the one.
 */
const otherEventThere = async (
  store: EventStore,
  after: bigint,
  tagged: { readonly tag: string; readonly taggers: readonly TaggerOnDemand[] } | undefined,
): Promise<string | undefined> => {
  if (tagged === undefined || (await holdsTaggedEvent(store, { position: after, tag: tagged.tag }, tagged.taggers))) return undefined;
  return (
    `cannot resume after the id ${after}~${tagged.tag}: the event at position ${after} of this log is not the one that id was given for, so it is an id of ` +
    'another log (a re-created store, another instance, or a store restored from an older backup), and resuming after its position would skip ' +
    "this log's events up to it without a word"
  );
};
