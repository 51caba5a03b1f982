import type { FastifyReply } from 'fastify';
import type { EventStore, RecordedEvent } from '../../../domain/ports/index.ts';
import { CASCADE_PENDING, readModelsCountedFor, type ComplianceQueryName } from '../../../projections/compliance/index.ts';
import { PROCESS_MANAGER_ACTOR } from '../../../projections/cascade/index.ts';
import type { ServiceContext } from '../context.ts';
import { eventsBehindInto, lagBehind, pastReadyBound, readYourWritesInto, type EventsBehind, type ReadModelName } from './wire.ts';

/*
 * The queries whose rows include the cascade's work still to do (CASCADE_PENDING, shared with `credence query --data`,
 * which counts the same read models from the folder's checkpoints): their answers wait for the cascade too, and count
 * it behind.
 */
/*
 * What the cascade's work to come must reach is every read model the answer counts (readModelsCountedFor): the cascade
 * (for its own reactions to it), the rows' read model, and the audit trail, from which a `revocations` row takes its
 * signature and token (review 334: the live runtime advances each on its own, so compliance could hold a cascade
 * revocation the audit trail had not reached, a row without them under `eventsBehind: 0`).
 */

/** How long the wait for what was stored when the request came takes at most: as every read-your-writes answer's. */
const HEAD_WAIT_MS = 1_000;
/** How long such an answer waits, at most, in all, for the cascade's reactions to reach the compliance read model. */
const SETTLE_MS = 2_000;
/** Records read per page past the request's head. */
const PAGE = 1_000;
/** How many records past the request's head are read, at most; past it the answer says the lag it sees. */
const READ_PAST = 10_000;

const isCascades = (event: RecordedEvent): boolean => {
  const actor = event.metadata['actor'];
  if (typeof actor !== 'object' || actor === null || Array.isArray(actor)) return false;
  const { id, role } = actor as Readonly<Record<string, unknown>>;
  return id === PROCESS_MANAGER_ACTOR.id && role === PROCESS_MANAGER_ACTOR.role;
};

/**
 * The cascade's events past the request's head `from` that stem from what was stored at `from` or before. The
 * cascade sends each of its commands with the id of the event it reacts to as causationId (projections/cascade
 * issue.ts), and reacts only to an event stored, so that event lies before its reaction in the log. Read in order
 * past `from`, a cascade's event stems from `from` or before when its cause is one of those already found stemming,
 * or is no record read past `from` (so it is at or before `from`). A reaction to a record stored after the request
 * came (a fleet's next revocation) is not its work. The correlationId, which the cascade carries over too, would not
 * do: it is the client's word, and a later command may carry an earlier one's.
 */
class StemmingWork {
  /** Every record read past the head, by id: a cause among them is later than the request. */
  readonly #readPast = new Set<string>();
  readonly #stemming = new Set<string>();
  #after: bigint;
  /** The position of the last event found stemming. */
  last: bigint | undefined;

  constructor(from: bigint) {
    this.#after = from;
  }

  /** Reads on up to `through`; false when that would pass READ_PAST records (then what stems cannot be told). */
  async readThrough(store: EventStore, through: bigint): Promise<boolean> {
    while (this.#after < through) {
      if (this.#readPast.size >= READ_PAST) return false;
      let read = 0;
      for await (const event of store.readAll({ afterPosition: this.#after, maxCount: PAGE })) {
        if (event.position > through) return true;
        this.#note(event);
        this.#after = event.position;
        read++;
      }
      if (read < PAGE) return true;
    }
    return true;
  }

  #note(event: RecordedEvent): void {
    const cause = event.metadata['causationId'];
    if (isCascades(event) && typeof cause === 'string' && (this.#stemming.has(cause) || !this.#readPast.has(cause))) {
      this.#stemming.add(event.id);
      this.last = event.position;
    }
    this.#readPast.add(event.id);
  }
}

/** The lag seen, at least 1, in the answer's headers: said at least at its count limit, as readYourWritesInto's (review 413). */
const behindInto = (context: ServiceContext, reply: FastifyReply, counted: readonly ReadModelName[]): EventsBehind =>
  eventsBehindInto(reply, lagBehind(context, counted));

/**
 * The compliance query's `eventsBehind` (and its header), after waiting (bounded) for the read models it reads: the
 * audit and compliance read models, and for the queries listing the cascade's work to come, the cascade too, and its
 * reactions to what was stored when the request came: the cascade having handled that head is not enough, as what it
 * appended in reaction (and its own reactions to that: a node's credentials revoked, then their associations) lies
 * past it. So the answer waits for the head read once, at the start, then for the read models it counts (the cascade,
 * compliance and the audit trail) to reach the last of the cascade's events stemming from it, until no new one comes;
 * never for the work of what was stored later (review 279: following each new head, an answer waited its whole bound
 * while a fleet was at work). Past the bound, the lag it sees is said, at least 1, and said at least at its count limit
 * (`eventsBehindAtLeast`, review 413).
 */
export const complianceLagInto = async (context: ServiceContext, reply: FastifyReply, name: ComplianceQueryName): Promise<EventsBehind> => {
  const counted = readModelsCountedFor(name);
  if (!CASCADE_PENDING.has(name)) return readYourWritesInto(context, reply, counted);
  const until = performance.now() + SETTLE_MS;
  const { store } = context.credence;
  const head = await store.headPosition();
  if (head === undefined) return readYourWritesInto(context, reply, counted);
  // As readYourWrites: a runtime already further behind than readiness allows is not waited for.
  const wait = pastReadyBound(context.live.lag(counted), context.limits.readyMaxLagEvents) ? 0 : HEAD_WAIT_MS;
  if (!(await context.live.caughtUp(head, wait, counted))) return behindInto(context, reply, counted);
  const work = new StemmingWork(head);
  let reached = head;
  for (;;) {
    // The cascade has handled `reached`, so its reactions to all up to it are stored by now: read on to the head.
    const through = (await store.headPosition()) ?? reached;
    if (!(await work.readThrough(store, through))) return behindInto(context, reply, counted);
    const last = work.last;
    if (last === undefined || last <= reached) return eventsBehindInto(reply, { eventsBehind: 0 });
    const left = until - performance.now();
    if (left <= 0 || !(await context.live.caughtUp(last, left, counted))) return behindInto(context, reply, counted);
    reached = last;
  }
};

/** complianceLagInto's count alone (its headers said all the same). */
export const complianceEventsBehindInto = async (context: ServiceContext, reply: FastifyReply, name: ComplianceQueryName): Promise<number> =>
  (await complianceLagInto(context, reply, name)).eventsBehind;
