import { unauthorised } from '../../../domain/errors.ts';
import type { RecordedEvent } from '../../../domain/ports/index.ts';
import { parseStreamId, streamIdOf, streamPrefixOf } from '../../../domain/streams.ts';
import { pseudonymsResolvedBy } from '../../../projections/pseudonyms/directory.ts';
import type { Principal, ServiceContext } from '../context.ts';
import { refusedForTheRole } from '../problems.ts';

/** How long a refusal waits, at most, for the pseudonym directory to reach the store's head (read-your-writes). */
const RESOLUTIONS_WAIT_MS = 1_000;

/**
 * Which node stands behind a pseudonym is for an auditor's recorded resolution to say (SER-025, SER-018; the
 * `resolvePseudonym` command, POST /v1/pseudonyms/resolutions). Found in review: every read role saw it in the
 * pseudonym's machine context, with no PseudonymResolved stored. The read side shows it only to an auditor who has
 * recorded a resolution of that pseudonym.
 *
 * Asked of the pseudonym directory's table of resolutions (one indexed row), not of the pseudonym's stream: found in
 * review, reading the whole stream (grown by resolutions) cost 144-223 ms of blocked event loop per refused request
 * at 10,000 events. Read-your-writes: a "no" counts only once the directory has handled everything stored when it
 * was asked (a resolution just recorded must count); a directory that does not get there in time, or a service
 * without one, is answered from the stream's first `maxEntityEvents` events, its whole under the resolution bound.
 */
export const hasResolved = async (context: ServiceContext, principal: Principal | undefined, streamId: string): Promise<boolean> =>
  principal?.role === 'auditor' && resolvedBy(context, streamId, principal);

const resolvedBy = async (context: ServiceContext, streamId: string, principal: Principal): Promise<boolean> => {
  const { credence } = context;
  const pseudonym = parseStreamId(streamId)?.id;
  if (pseudonym === undefined) return false;
  if (credence.pseudonyms !== undefined) {
    if (inDirectory(context, pseudonym, principal)) return true;
    if (await directoryCaughtUp(context)) return inDirectory(context, pseudonym, principal);
  }
  // Review 416: read unbounded, a real pseudonym answered slower than a made-up one by its stream's length. The
  // resolution bound (resolution-bound.ts) refuses a resolution once the stream holds maxEntityEvents events, so
  // these are the whole of it, and a resolution by this caller is among them.
  return resolvedIn(await credence.store.readStream(streamId, { maxCount: context.limits.maxEntityEvents }), principal);
};

/** Whether the pseudonym directory holds a resolution of `pseudonym` by this auditor (one indexed row). */
type InDirectory = (pseudonym: string, principal: Principal) => boolean;

/**
 * InDirectory over one prepared statement: better-sqlite3 compiles a statement at each `prepare`, so a teller asked of
 * every record of a look-back (../sse/told-start.ts) prepares it once, not once a record (review 395).
 */
const directoryOf = (context: ServiceContext): InDirectory => {
  const statement = context.credence.readModels.prepare('SELECT 1 FROM pseudonym_resolutions WHERE pseudonym = ? AND actor_id = ? LIMIT 1');
  return (pseudonym, principal) => statement.get(pseudonym, principal.subject) !== undefined;
};

/** InDirectory asked once: a statement prepared for the one question. */
const inDirectory = (context: ServiceContext, pseudonym: string, principal: Principal): boolean => directoryOf(context)(pseudonym, principal);

/** Whether the pseudonym directory has handled everything stored now, waiting RESOLUTIONS_WAIT_MS at most. */
const directoryCaughtUp = async (context: ServiceContext): Promise<boolean> => {
  const head = await context.credence.store.headPosition();
  return head === undefined || (await context.live.caughtUp(head, RESOLUTIONS_WAIT_MS, ['pseudonyms']));
};

/**
 * Whether a reader of the canonical event stream is told `record`: an event of a pseudonym's stream names its node (its
 * data, its correlation and causation ids, its event id and so its id's tag), so only to an auditor who recorded a
 * resolution of that pseudonym (review 223: the stream gave every rotation whole to operators and auditors). Other
 * events always. Asked once per stream, event by event after: the directory is waited for once, when the stream opens
 * (a resolution just recorded counts), and a resolution the stream itself passes counts from there on, so a stream
 * waits on nothing per event. Without a directory (no pseudonym key), or one that did not get there in time, the
 * pseudonym's stream is read, as hasResolved does. A "yes" is kept: a resolution is never undone.
 */
export const toldOnStreams = async (context: ServiceContext, principal: Principal): Promise<(record: RecordedEvent) => Promise<boolean>> => {
  if (principal.role !== 'auditor') return async (record) => parseStreamId(record.streamId)?.kind !== 'pseudonym';
  return tellerOf(context, principal, context.credence.pseudonyms !== undefined && (await directoryCaughtUp(context)));
};

/** toldOnStreams for an auditor, asking the directory (caught up already) or, without `directory`, each pseudonym's stream. */
const tellerOf = (context: ServiceContext, principal: Principal, directory: boolean): ((record: RecordedEvent) => Promise<boolean>) => {
  const resolved = new Set<string>();
  let asked: InDirectory | undefined;
  return async (record) => {
    const ref = parseStreamId(record.streamId);
    if (ref?.kind !== 'pseudonym') return true;
    if (isResolutionBy(record, principal.subject)) resolved.add(record.streamId);
    if (resolved.has(record.streamId)) return true;
    const yes = directory
      ? (asked ??= directoryOf(context))(ref.id, principal)
      : resolvedIn(await context.credence.store.readStream(record.streamId, { maxCount: context.limits.maxEntityEvents }), principal);
    if (yes) resolved.add(record.streamId);
    return yes;
  };
};

/** Whether the caller is told what a stream names (a pseudonym's node, its links): always for a stream of no pseudonym. */
export type Teller = (streamId: string) => Promise<boolean>;

/**
 * toldOnStreams asked of a stream by its id, for answers that name streams, not records (replay findings, compliance
 * rows, review 251): asked once per pseudonym per answer (a fleet's findings may name one many times), and the
 * pseudonym directory waited for once, at the first pseudonym, not once per pseudonym (a store with findings may have
 * stopped it, and each wait is up to a second); an answer without one waits on nothing. Asked of a record of the
 * stream that is no resolution: the directory, waited for when it opens, holds every resolution stored by then.
 */
export const toldOfStreamIds = (context: ServiceContext, principal: Principal | undefined): Teller => {
  let tells: ReturnType<typeof toldOnStreams> | undefined;
  const asked = new Map<string, Promise<boolean>>();
  return (streamId) => {
    if (parseStreamId(streamId)?.kind !== 'pseudonym') return Promise.resolve(true);
    if (principal === undefined) return Promise.resolve(false);
    let answer = asked.get(streamId);
    if (answer === undefined) {
      tells ??= toldOnStreams(context, principal);
      asked.set(streamId, (answer = tells.then((tell) => tell(noResolutionOf(streamId)))));
    }
    return answer;
  };
};

/** A record of `streamId` that is no resolution: what a teller of records is asked for a stream by its id. */
const noResolutionOf = (streamId: string): RecordedEvent => ({ id: '', streamId, revision: -1n, position: -1n, type: '', data: {}, metadata: {} });

/** Up to `limit` stream ids of the pseudonyms an auditor resolved, in stream-id order, after the stream id `after`. */
export type ResolvedStreams = (after: string | undefined, limit: number) => string[];

/**
 * Which pseudonyms an answer that shows those the caller resolved and no other (the entity listing) shows: `resolved`,
 * their streams read in stream-id order from the pseudonym directory; review 282 found the listing asked
 * toldOfStreamIds of every pseudonym past its cursor, a second a page at 100,000 of them. The same answer as that
 * teller's, pseudonym by pseudonym: the directory waited for once, when this is asked (a resolution just recorded
 * counts), and read at each call; none to another role. `told` when the directory cannot say (no pseudonym key, or
 * not there in time): a teller to ask of each pseudonym, which reads its stream (and waits for nothing again). An
 * `after` before every pseudonym's stream reads `resolved` from the first; its caller asks for none past the last.
 */
export const pseudonymsShownTo = async (
  context: ServiceContext,
  principal: Principal | undefined,
): Promise<{ readonly resolved: ResolvedStreams } | { readonly told: Teller }> => {
  if (principal?.role !== 'auditor') return { resolved: () => [] };
  if (context.credence.pseudonyms === undefined || !(await directoryCaughtUp(context))) {
    const tell = tellerOf(context, principal, false);
    return { told: async (streamId) => parseStreamId(streamId)?.kind !== 'pseudonym' || tell(noResolutionOf(streamId)) };
  }
  const prefix = streamPrefixOf('pseudonym');
  return {
    resolved: (after, limit) =>
      pseudonymsResolvedBy(context.credence.readModels, principal.subject, after?.startsWith(prefix) ? after.slice(prefix.length) : undefined, limit).map(
        (id) => streamIdOf('pseudonym', id),
      ),
  };
};

/** Whether `event` (of a pseudonym's stream) is a resolution recorded by the auditor `auditor`. */
export const isResolutionBy = (event: RecordedEvent, auditor: string): boolean => {
  const actor = event.metadata['actor'] as { id?: unknown; role?: unknown } | undefined;
  return event.type === 'PseudonymResolved' && actor?.id === auditor && actor.role === 'auditor';
};

/** Whether `events` (a pseudonym's stream) hold a resolution recorded by this auditor. */
const resolvedIn = (events: readonly RecordedEvent[], principal: Principal | undefined): boolean =>
  principal?.role === 'auditor' && events.some((event) => isResolutionBy(event, principal.subject));

/**
 * Nothing for a stream that is not a pseudonym's. 403 for what of a pseudonym's stream names its node, unless the caller recorded a resolution of it: its events
 * (PseudonymRotated carries the node and the epoch), and their metadata and causes, which name the node's own events
 * (a rotation reacting to a registration is caused by it, and an interval rotation's command id derives from the
 * Node-ID). The refusal says how to get it accountably, by the route and by the CLI (review 168), naming the
 * pseudonym: only for a route whose caller named it (its path). A route that reaches the stream by anything else
 * refuses with refusePseudonymsEventUnlessResolved, which names none.
 *
 * The same refusal for a pseudonym that exists and for one that does not (review 409): a 404 to the rest, or anything
 * read of the stream before the refusal (its revision, its count of resolutions, its length), told a caller who may
 * not resolve it that it exists, and when auditors resolved it. Only an auditor who resolved it gets past, and its
 * stream then exists; an operator's or an admin's refusal reads nothing (hasResolved asks no store of them), and an
 * auditor learns whether a pseudonym exists where it may resolve one, accountably (POST /v1/pseudonyms/resolutions
 * answers 404). So a route of one pseudonym calls this before anything else it reads.
 */
export const refuseUnlessResolved = async (context: ServiceContext, principal: Principal | undefined, streamId: string): Promise<void> => {
  const ref = parseStreamId(streamId);
  if (ref?.kind !== 'pseudonym') return;
  if (await hasResolved(context, principal, streamId)) return;
  throw unresolved(
    principal,
    `the history of a pseudonym names its node (SER-025): an auditor resolves it first (POST /v1/pseudonyms/resolutions, recorded), then reads it; ` +
      `from the CLI: credence pseudonym resolve ${ref.id} --reason TEXT (with --sign-key FILE --audience NAME where the signing policy requires it)`,
  );
};

/**
 * The refusal of what names a pseudonym's node: to an auditor, for who it is (it has not resolved that pseudonym); to
 * any other role, which can never resolve one (resolving is the auditor's, SER-025), for its role, told
 * `insufficient_scope` as a route the role may not call is (review 370).
 */
const unresolved = (principal: Principal | undefined, reason: string): Error => {
  const refusal = unauthorised(principal?.subject ?? 'anonymous', reason);
  return principal?.role === 'auditor' ? refusal : refusedForTheRole(refusal);
};

/**
 * refuseUnlessResolved for an event of `streamId` the caller reached without naming its stream (by its global
 * position): the refusal names no pseudonym and no stream of one. Found in review 281: the inclusion proof's refusal
 * named the pseudonym at the position asked, and a node's position (its entity shows it) plus one, or a walk of every
 * position, linked each node to its pseudonyms with nothing recorded. Never a 404: the event is there.
 */
export const refusePseudonymsEventUnlessResolved = async (context: ServiceContext, principal: Principal | undefined, streamId: string): Promise<void> => {
  if (parseStreamId(streamId)?.kind !== 'pseudonym') return;
  if (await hasResolved(context, principal, streamId)) return;
  throw unresolved(
    principal,
    "the record at this position is an event of a pseudonym's stream: it names the pseudonym and the node behind it (SER-025). " +
      'An auditor who resolved that pseudonym (POST /v1/pseudonyms/resolutions, recorded; credence pseudonym resolve) reads it',
  );
};

/**
 * 403 for a record of another stream that names the pseudonym stream `pseudonymStream` (a fact claim its rotation left
 * on the node's stream or its command id's, on EventStoreDB: domain/transparency/bundle.ts pseudonymNamedBy), unless
 * the caller is an auditor who recorded a resolution of that pseudonym (review 172). Unlike refuseUnlessResolved, the
 * refusal names no pseudonym (the caller asked for a position and may not know it) and is never a 404: a claim whose
 * rotation was not appended names a pseudonym all the same, one that no one can resolve.
 */
export const refuseNamedPseudonymUnlessResolved = async (context: ServiceContext, principal: Principal | undefined, pseudonymStream: string): Promise<void> => {
  if (await hasResolved(context, principal, pseudonymStream)) return;
  throw unresolved(
    principal,
    "the record at this position is a fact claim a pseudonym's rotation made: it names the pseudonym, and so the node behind it (SER-025). " +
      'An auditor who resolved that pseudonym (POST /v1/pseudonyms/resolutions, recorded; credence pseudonym resolve) reads it; ' +
      "the node's evidence bundle carries it withheld, its leaf hash proved",
  );
};

/**
 * A timeline entry as the compliance `actions` rows show it: one of a pseudonym's stream without what points at its
 * node (found in review: the first rotation's `causedBy` was the node's registration). Its cause and correlation
 * name the node's own events, and its command id (so its event id) derives from the cause or, for an interval
 * rotation, from the Node-ID and epoch, which anyone holding the node list can compute. Nor the reason an auditor
 * gave a resolution: free text that may name the case or the person behind the node (review 112), read on the
 * pseudonym's timeline by an auditor who resolved it. Position, time, actor and command type stay: what was done,
 * and by whom.
 */
export const withoutNodeTrail = (entry: Record<string, unknown>): Record<string, unknown> => {
  if (typeof entry['streamId'] !== 'string' || parseStreamId(entry['streamId'])?.kind !== 'pseudonym') return entry;
  const { eventId: _e, commandId: _c, correlationId: _r, causationId: _a, causedBy: _b, reason: _n, ...rest } = entry;
  return rest;
};
