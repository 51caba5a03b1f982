/**
 * The `id:` of a stream's event: `<position>~<tag>`, the tag naming the event at that position (domain/positions.ts
 * ResumePointString), so that a resume point of another log at the same position (a re-created store, another
 * instance, a restore from an older backup) is told from this log's own and refused, not resumed after (review 185).
 *
 * Each form of the stream has its tagger:
 * - canonical (operators, auditors): 8 hex digits of SHA-256 of the event's own event id, which the frame carries;
 * - pseudonymised (integrators): the same under a key derived from the pseudonym key. Event ids are derived from
 *   command ids (domain/event-ids.ts), some from canonical identifiers (an expiry's: its stream and deadline), so a
 *   plain hash would let an integrator test guesses of a canonical id against the tags it is sent (SER-011).
 */
import { createHmac, hash } from 'node:crypto';
import { isCredenceError, secureEnvironmentUnavailable, type CredenceError } from '../../../domain/errors.ts';
import type { ResumePoint } from '../../../domain/positions.ts';
import type { EventStore, RecordedEvent } from '../../../domain/ports/event-store.ts';
import type { PseudonymDeriver } from '../../../projections/pseudonyms/index.ts';
import { UNDERLYING_STORE } from '../../../projections/pseudonyms/underlying-store.ts';
import { recordAtPosition } from '../../../projections/runtime/index.ts';

/** Hex digits of a tag: 32 bits, so one log's id matches another's event at its position once in some 4 billion. */
const TAG_HEX = 8;

/** The tag of the event whose own event id is `eventId`. */
export type EventTagger = (eventId: string) => string;

/**
 * Node's native digests, as the command path's event ids (adapters/engine/event-ids.ts): one per event sent, where the
 * pure-JavaScript ones cost some 2.4 µs (SHA-256) and 3.9 µs (HMAC) an event, these 0.25 and 1.5.
 */
export const canonicalTagger: EventTagger = (eventId) => hash('sha256', eventId, 'hex').slice(0, TAG_HEX);

/**
 * The key of the pseudonymised stream's tags: the pseudonym key's PRF of an identifier no node has (a NUL is refused
 * in every identifier), so one Secure Environment call per process, and the same key on every instance that serves the
 * fleet's pseudonyms. It never leaves the process.
 */
const TAG_KEY_INPUT = '\0credence/event-tag/v1';

export const pseudonymousTagger = async (deriver: PseudonymDeriver): Promise<EventTagger> => {
  let key: string;
  try {
    key = await deriver.identifier('node', TAG_KEY_INPUT, 0);
  } catch (error) {
    throw tagKeyUnavailable(error);
  }
  return (eventId) => createHmac('sha256', key).update(eventId).digest('hex').slice(0, TAG_HEX);
};

/**
 * A tag key that could not be derived: the Secure Environment's condition, never the caller's request, so a
 * `secure_environment_unavailable` (503 with Retry-After) as wherever the service meets it unusable, where an error of
 * no known kind was a 500 (review 189). Its own refusals (unavailable; unsupported, a 500 no retry mends) keep their
 * answer; what caused any other is kept as the cause, for the service's log only.
 */
const tagKeyUnavailable = (error: unknown): CredenceError => {
  if (isCredenceError(error, 'secure_environment_unavailable') || isCredenceError(error, 'secure_environment_unsupported')) return error;
  const unavailable = secureEnvironmentUnavailable(
    'pseudonym_tag_key_unavailable',
    "the key of the pseudonymised stream's event ids could not be derived from the pseudonym key in the Secure Environment",
  );
  unavailable.cause = error;
  return unavailable;
};

/** The stream id of `record`. */
export const eventIdOf = (record: Pick<RecordedEvent, 'position' | 'id'>, tagOf: EventTagger): string => `${record.position.toString(10)}~${tagOf(record.id)}`;

/**
 * A tagger made when first needed: the pseudonymised stream's costs a Secure Environment call, and may fail with it.
 */
export type TaggerOnDemand = () => EventTagger | Promise<EventTagger>;

/**
 * Whether the event at `point.position` is the one its tag names by one of `taggers` (the forms of the stream the
 * principal may read), tried in order, each made only when none before it matched: with the canonical one first, an
 * operator's or auditor's canonical id is checked by SHA-256 alone, and never waits on, nor fails with, the Secure
 * Environment the keyed one needs (review 189). True for a bare position (nothing to check). A position with no event
 * (0, or a scavenged record's) holds no tagged id's event.
 */
export const holdsTaggedEvent = async (store: EventStore, point: ResumePoint, taggers: readonly TaggerOnDemand[]): Promise<boolean> => {
  if (point.tag === undefined) return true;
  const record = point.position === 0n ? undefined : await recordAtPosition(store, point.position);
  if (record === undefined) return false;
  for (const make of taggers) {
    const tagOf = await make();
    if (tagOf(record.id) === point.tag) return true;
  }
  return false;
};

/**
 * The id a stream's first frame names as where it starts (`from=end`, or a resume point): the event there, tagged, so
 * that a client cut before its first event resumes with a checked id; the bare position where no event is (0).
 */
export const startIdOf = async (store: EventStore, position: bigint, tagOf: EventTagger): Promise<string> => {
  const record = position === 0n ? undefined : await recordAtPosition(store, position);
  return record === undefined ? position.toString(10) : eventIdOf(record, tagOf);
};

/**
 * The store a pseudonymised stream reads, noting the record its subscription yielded last, and the stream id of the
 * event at a position: a pseudonymised event carries no event id, and the stream pulls one record and delivers it
 * before the next (projections/streams/paced.ts), so the record noted is the event's. Where it is not (another
 * reader of the subscription), the record is read at its position: right either way, only slower. The store given is
 * the view's underlying store (projections/pseudonyms/underlying-store.ts): what is kept per store is shared with it.
 */
export const notingStore = (store: EventStore, tagOf: EventTagger): { readonly store: EventStore; readonly idAt: (position: bigint) => Promise<string> } => {
  let last: RecordedEvent | undefined;
  const subscribeToAll: EventStore['subscribeToAll'] = (options) => {
    const subscription = store.subscribeToAll(options);
    return {
      unsubscribe: () => subscription.unsubscribe(),
      [Symbol.asyncIterator]: () => {
        const records = subscription[Symbol.asyncIterator]();
        return {
          next: async () => {
            const next = await records.next();
            if (next.done !== true) last = next.value;
            return next;
          },
          ...(records.return !== undefined ? { return: (value?: unknown) => records.return!(value) } : {}),
        };
      },
    };
  };
  // A proxy, not Object.create: a store's methods may read #fields, which only the store itself has. It names the
  // store it views, under which the identity folds are kept: one proxy per request, they were kept under each, for
  // no later stream to read on from (review 241).
  const noted = new Proxy(store, {
    get: (target, name) => {
      if (name === 'subscribeToAll') return subscribeToAll;
      if (name === UNDERLYING_STORE) return target;
      const value: unknown = Reflect.get(target, name, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const idAt = async (position: bigint): Promise<string> => {
    if (last?.position === position) return eventIdOf(last, tagOf);
    const record = await recordAtPosition(store, position);
    if (record === undefined) throw new Error(`event stream: no record at position ${position}, which the stream delivered`);
    return eventIdOf(record, tagOf);
  };
  return { store: noted, idAt };
};

/**
 * The pseudonymised stream's tagger, for its stream ids and the compliance cursors at a pseudonym's event, keyed once
 * per process (one Secure Environment call; a failed derivation is not kept, so the next request tries again, and is
 * answered 503 secure_environment_unavailable); none without a pseudonym key.
 */
export const keyedTagger = (deriver: PseudonymDeriver | undefined): (() => Promise<EventTagger>) | undefined => {
  if (deriver === undefined) return undefined;
  let keying: Promise<EventTagger> | undefined;
  return () => {
    if (keying !== undefined) return keying;
    const derived = pseudonymousTagger(deriver);
    keying = derived;
    derived.catch(() => {
      if (keying === derived) keying = undefined;
    });
    return derived;
  };
};
