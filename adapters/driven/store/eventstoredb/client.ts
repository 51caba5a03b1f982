/**
 * The one file that imports `@eventstore/db-client` (6.x), with connection-string.ts (the client's parser, run where
 * the store setting is parsed). Everything the adapter needs from the client goes through `EsdbDriver` (driver.ts);
 * vendor types and errors stop here. Moving to `@kurrent/kurrentdb-client` (where
 * `expectedRevision` became `streamState` and `esdb://` became `kurrentdb://`) is a rewrite of these two files only.
 */
import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  NO_STREAM,
  ANY,
  START,
  AccessDeniedError,
  CancelledError,
  DeadlineExceededError,
  NotLeaderError,
  PersistentSubscriptionExistsError,
  StreamDeletedError,
  StreamNotFoundError,
  TimeoutError,
  UnavailableError,
  UnknownError,
  WrongExpectedVersionError,
  eventTypeFilter,
  jsonEvent,
  persistentSubscriptionToAllSettingsFromDefaults,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AppendResult,
  type Filter,
  type PersistentSubscriptionToAllResolvedEvent,
  type RecordedEvent as ClientRecordedEvent,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { concurrencyConflict, illegalTransition } from '../../../../domain/errors.ts';
import { connectionStringFileProblems, connectionStringProblems, deadlineOf, quietly, redactConnectionString, toClientConnectionString } from './connection-string.ts';
import { collectWithin, confirmWithin, noAnswer, settleWithin, within, type Deadline } from './deadline.ts';
import { OrderedPump } from './ordered-pump.ts';
import {
  EventStoreDbError,
  type AppendOutcome,
  type EventStoreUnavailable,
  type EsdbDriver,
  type PersistentDelivery,
  type ServerFilter,
  type WireEvent,
  type WireExpected,
  type WireMessage,
  type WireStart,
} from './driver.ts';

export { toClientConnectionString } from './connection-string.ts';

/** Warnings already printed: a service opens the store more than once, and the operator needs to read each once. */
const warned = new Set<string>();

export function connectEventStoreDb(connectionString: string): EsdbDriver {
  // Checked again here for callers of openEventStoreDbStore that did not go through the store setting's parse.
  // The certificate files too, which the setting's parse leaves to here (connectionStringFileProblems).
  const problems = [...connectionStringProblems(connectionString), ...connectionStringFileProblems(connectionString)];
  if (problems.length > 0) throw new EventStoreDbError(`invalid EventStoreDB connection string: ${problems.join('; ')}`, false);
  const clientString = toClientConnectionString(connectionString);
  let client: EventStoreDBClient;
  let deadline: Deadline;
  try {
    // The client console.warns the whole string (password included) for tlsVerifyCert=false: said here redacted.
    const made = quietly(() => EventStoreDBClient.connectionString(clientString));
    client = made.value;
    deadline = deadlineOf(clientString);
    for (const warning of made.warnings) {
      const text = `warning: EventStoreDB client: ${redactConnectionString(warning, clientString)}`;
      if (!warned.has(text)) console.warn(text);
      warned.add(text);
    }
  } catch (error) {
    // A ParseError (it has `expected`) quotes the string, credentials included; the others (a missing tlsCAFile, a
    // negative keepAliveInterval) are the client's fixed sentences.
    const fixed = error instanceof Error && (error as { expected?: unknown }).expected === undefined;
    const reason = fixed ? `: ${redactConnectionString(error.message, clientString)}` : '';
    throw new EventStoreDbError(`invalid EventStoreDB connection string${reason}`, false);
  }
  const silent = (operation: string) => () => noAnswer(deadline, operation);
  // The client reads with no deadline: a read ends when the server stays silent too long (deadline.ts).
  const collect = (read: Parameters<typeof collectWithin>[0], operation: string): Promise<WireEvent[]> =>
    collectWithin(read, deadline.ms, silent(operation), (resolved: ResolvedEvent) => wireEvent(resolved));
  return {
    async append(streamId, events, expected) {
      let result: AppendResult;
      try {
        const sent = client.appendToStream(
          streamId,
          events.map((e) => jsonEvent({ id: e.id, type: e.type, data: e.data, metadata: e.metadata })),
          { expectedRevision: clientExpected(expected) },
        );
        // The events may have been written: a retry with the same command id finds them (append.ts), so this is
        // transient, never a refusal.
        const timeout = () => noAnswer(deadline, `append to ${streamId}`, 'may_be_written');
        result = await within(sent, deadline.ms, timeout);
      } catch (error) {
        if (error instanceof StreamDeletedError) throw streamDeleted(streamId, events[0]?.type ?? 'append');
        throw translate(error, `append to ${streamId}`, deadline, 'may_be_written');
      }
      // A client told not to throw answers a refused append this way (connectionStringProblems refuses that setting;
      // this holds whatever reaches here): a conflict, never a success (review 115).
      if (result.success === false) {
        throw concurrencyConflict(streamId, expected === 'no_stream' ? 'no stream' : expected === 'any' ? 'any revision' : `revision ${String(expected)}`, 'another revision');
      }
      // An idempotent repeat is answered without a position by older servers: append.ts reads it back.
      return { revision: result.nextExpectedRevision, position: result.position?.commit };
    },

    async readStream(streamId, { from, backwards, maxCount }) {
      if (maxCount <= 0) return [];
      try {
        const read = client.readStream(streamId, {
          fromRevision: from === 'start' ? START : from === 'end' ? END : from,
          direction: backwards ? BACKWARDS : FORWARDS,
          maxCount,
        });
        return await collect(read, `read of ${streamId}`);
      } catch (error) {
        // The client reports a missing stream by throwing while iterating, not by an empty read.
        if (error instanceof StreamNotFoundError || error instanceof StreamDeletedError) return [];
        throw translate(error, `read of ${streamId}`, deadline);
      }
    },

    async readAllForwards({ from, maxCount }) {
      try {
        const read = client.readAll({ direction: FORWARDS, fromPosition: { commit: from, prepare: from }, maxCount });
        return await collect(read, 'forward read of $all');
      } catch (error) {
        throw translate(error, 'forward read of $all', deadline);
      }
    },

    async readAllBackwards({ before, maxCount }) {
      try {
        const read = client.readAll({
          direction: BACKWARDS,
          fromPosition: before === 'end' ? END : { commit: before, prepare: before },
          maxCount,
        });
        return await collect(read, 'backward read of $all');
      } catch (error) {
        throw translate(error, 'backward read of $all', deadline);
      }
    },

    subscribeToAll(start: WireStart, filter: ServerFilter, { pageBytes } = {}) {
      let pump: OrderedPump<WireMessage> | undefined;
      const subscription = client.subscribeToAll(
        {
          fromPosition: start.kind === 'start' ? START : { commit: start.position, prepare: start.position },
          filter: clientFilter(filter, (position) => pump?.signal({ kind: 'checkpoint', position })),
        },
        // With a budget, the client's own stream holds one event each side rather than 16 (objectMode's default), so
        // that what a stalled reader holds is the budget and what gRPC has in flight.
        pageBytes === undefined ? {} : { highWaterMark: 1 },
      );
      const budget = pageBytes === undefined ? undefined : { bytes: pageBytes, sizeOf: payloadSize };
      pump = new OrderedPump<WireMessage>(
        subscription,
        (chunk) => ({ kind: 'event', event: wireEvent(chunk as AllStreamResolvedEvent) }),
        undefined,
        budget,
      );
      subscription.on('caughtUp', () => pump?.signal({ kind: 'caughtUp' }));
      confirmWithin(subscription, deadline.ms, silent('subscription to $all'));
      const messages = pump;
      return {
        next: () => messages.next().catch((error: unknown) => Promise.reject(translate(error, 'subscription to $all', deadline))),
        close: async () => {
          messages.close();
          await settleWithin(subscription.unsubscribe(), deadline.ms);
        },
      };
    },

    async ensurePersistentGroupOnAll(group, { startFrom, filter, maxRetryCount }) {
      try {
        const creating = client.createPersistentSubscriptionToAll(
          group,
          persistentSubscriptionToAllSettingsFromDefaults({ startFrom: startFrom === 'start' ? START : END, maxRetryCount }),
          filter === undefined ? {} : { filter: clientFilter(filter) },
        );
        await within(creating, deadline.ms, silent(`creation of consumer group ${group}`));
        return 'created';
      } catch (error) {
        if (error instanceof PersistentSubscriptionExistsError) return 'existed';
        throw translate(error, `creation of consumer group ${group}`, deadline);
      }
    },

    subscribePersistentOnAll(group, bufferSize) {
      const subscription = client.subscribeToPersistentSubscriptionToAll(group, { bufferSize });
      const settle = async (what: string, action: () => Promise<void>): Promise<void> => {
        try {
          await action();
        } catch (error) {
          // A failed ack or nack is a connection problem: the server redelivers the event to the group anyway.
          throw new EventStoreDbError(`EventStoreDB ${what} on consumer group ${group} failed: ${messageOf(error)}`, true, {
            cause: error,
            unavailable: unavailableOf(error, deadline),
          });
        }
      };
      const pump = new OrderedPump<PersistentDelivery>(subscription, (chunk) => {
        const resolved = chunk as PersistentSubscriptionToAllResolvedEvent;
        return {
          event: wireEvent(resolved),
          retryCount: resolved.retryCount,
          ack: () => settle('ack', () => subscription.ack(resolved)),
          nack: (action, reason) => settle('nack', () => subscription.nack(action, reason, resolved)),
        };
      });
      confirmWithin(subscription, deadline.ms, silent(`consumer group ${group}`));
      return {
        next: () => pump.next().catch((error: unknown) => Promise.reject(translate(error, `consumer group ${group}`, deadline))),
        close: async () => {
          pump.close();
          // Its call starts after the server-features check, which a stalled server never answers.
          await settleWithin(subscription.unsubscribe(), deadline.ms);
        },
      };
    },

    close: () => client.dispose(),
  };
}

function clientExpected(expected: WireExpected): typeof ANY | typeof NO_STREAM | bigint {
  return expected === 'any' ? ANY : expected === 'no_stream' ? NO_STREAM : expected;
}

function clientFilter(filter: ServerFilter, onCheckpoint?: (position: bigint) => void): Filter {
  // checkpointInterval 1: a checkpoint every search window (32 events considered), so that a sparse filter still
  // tells a bounded read how far the server has looked.
  const checkpoint =
    onCheckpoint === undefined
      ? {}
      : { checkpointInterval: 1, checkpointReached: (_: unknown, position: { commit: bigint }) => onCheckpoint(position.commit) };
  if ('prefixes' in filter) return streamNameFilter({ prefixes: [...filter.prefixes], ...checkpoint });
  return filter.on === 'stream' ? streamNameFilter({ regex: filter.regex, ...checkpoint }) : eventTypeFilter({ regex: filter.regex, ...checkpoint });
}

function wireEvent(resolved: ResolvedEvent): WireEvent {
  const event: ClientRecordedEvent | undefined = resolved.event;
  if (event === undefined) throw new EventStoreDbError('the server sent a link without its event', false);
  return {
    id: event.id,
    streamId: event.streamId,
    revision: event.revision,
    position: event.position?.commit,
    type: event.type,
    isJson: event.isJson,
    data: event.data,
    metadata: event.metadata,
  };
}

/**
 * An event's data and metadata as characters of text (bytes when they are not JSON), as the port's `pageBytes` counts
 * them. The client hands them over parsed, so the text is made again: only for a subscription that asked for a budget.
 */
function payloadSize(message: WireMessage): number {
  if (message.kind !== 'event') return 0;
  const size = (value: unknown): number =>
    value === undefined ? 0 : value instanceof Uint8Array ? value.byteLength : (JSON.stringify(value)?.length ?? 0);
  return size(message.event.data) + size(message.event.metadata);
}

function describeRevision(value: unknown): string {
  if (typeof value === 'bigint') return `revision ${value}`;
  if (value === NO_STREAM) return 'no stream';
  if (value === 'stream_exists') return 'an existing stream';
  if (value === ANY) return 'any revision';
  return String(value);
}

/** The client's "Failed to discover after N attempts." (its discovery gives up on a cluster's gossip seeds). */
const isDiscoveryFailure = (error: unknown): boolean => error instanceof Error && error.constructor === Error && /^Failed to discover after \d+ attempts\.?$/.test(error.message);

function translate(error: unknown, operation: string, deadline: Deadline, appendOutcome?: AppendOutcome): Error {
  if (error instanceof EventStoreDbError) return error;
  if (error instanceof WrongExpectedVersionError) {
    return concurrencyConflict(error.streamName, describeRevision(error.expectedVersion), describeRevision(error.actualVersion));
  }
  // The client's own deadline (a unary call's) ran out before ours: the same time limit, said the same way.
  if (error instanceof DeadlineExceededError) return noAnswer(deadline, operation, appendOutcome, error);
  // The server refused what it was asked, and will refuse it again: not transient (review 132: as an UnknownError, a
  // subscription from a position inside a record resubscribed to it for ever, and a bounded read retried it).
  if (error instanceof UnknownError && error.code === INVALID_ARGUMENT) {
    return new EventStoreDbError(`EventStoreDB ${operation} failed: ${refusedArgument(error)}`, false, { cause: error });
  }
  // The server refused the connection string's credentials (a password rotated: UNAUTHENTICATED) or what its user may
  // do (permissions narrowed: `access-denied`); the 6.x client has no NotAuthenticatedError, both are its
  // AccessDeniedError. Review 386: passed on untranslated, every command and read was a 500. The store is unavailable
  // to this service until its operator mends them, so it is said as such (a subscription resubscribes meanwhile, and
  // resumes once they are mended); the server's words name no user, and the message names none either.
  if (isCredentialsRefusal(error)) {
    return new EventStoreDbError(
      `EventStoreDB ${operation} failed: the server refused this service's credentials or permissions (${messageOf(error)}): check the user name and password (or the certificate) of the connection string, and that the user may read and write Credence's streams and read $all`,
      true,
      { cause: error, unavailable: { reason: 'unauthorised' }, appendOutcome },
    );
  }
  const transient =
    isDiscoveryFailure(error) ||
    error instanceof UnavailableError ||
    error instanceof CancelledError ||
    error instanceof TimeoutError ||
    error instanceof NotLeaderError ||
    error instanceof UnknownError;
  // A cluster whose gossip never answered (`esdb+discover`): the client throws a plain Error, which is the same outage
  // as an unreachable node (review 115: it was a 500, a CLI failure without a hint, a dead subscription).
  const undiscovered = isDiscoveryFailure(error);
  const unreachable = error instanceof UnavailableError || undiscovered;
  const message = error instanceof NotLeaderError ? notLeaderMessage(error) : messageOf(error);
  // An append's outcome (may_be_written) for every transient failure: a connection lost or a call cancelled after the
  // request went out leaves the outcome as unknown as a deadline does (review 151). A refusal carries none.
  return new EventStoreDbError(`EventStoreDB ${operation} failed: ${message}`, transient, {
    cause: error,
    unreachable,
    unavailable: unavailableOf(error, deadline),
    appendOutcome,
  });
}

/**
 * An append to a stream another writer hard-deleted (tombstoned), which reads as absent (readStream): the server
 * never lets it be written again, so the id is spent on this cluster. The caller's refusal, not a failure of the
 * store (review 179: an untyped error, a 500), and final: a retry is refused alike.
 */
const streamDeleted = (streamId: string, attempted: string): Error =>
  illegalTransition({
    streamId,
    state: 'deleted',
    attempted,
    allowed: [],
    rule: 'stream_deleted',
    because: 'the stream was hard-deleted (tombstoned) on this EventStoreDB cluster, which never lets it be written again: its id cannot be used again there',
  });

/** gRPC's INVALID_ARGUMENT, which the client turns into an UnknownError (it carries no `exception` metadata). */
const INVALID_ARGUMENT = 3;
/** gRPC's PERMISSION_DENIED: with the server's `exception: access-denied` the client's AccessDeniedError, without an UnknownError. */
const PERMISSION_DENIED = 7;

const isCredentialsRefusal = (error: unknown): boolean =>
  error instanceof AccessDeniedError || (error instanceof UnknownError && error.code === PERMISSION_DENIED);

/** The server's words, and for a position it cannot read from (RpcExceptions.InvalidPositionException) what that means. */
const refusedArgument = (error: UnknownError): string => {
  const said = messageOf(error);
  if (!/invalid position/i.test(said)) return `the server refused the request: ${said}`;
  return `${said} (the position is inside a record, not at an event's own position: one of another log, or never handed out; start from a position this store returned)`;
};

/** Why a transient error of the client happened (driver.ts); the unclassified ones are said as unreachable. */
function unavailableOf(error: unknown, deadline: Deadline): EventStoreUnavailable {
  if (error instanceof NotLeaderError) return { reason: 'not_leader', leader: leaderOf(error) };
  if (error instanceof DeadlineExceededError) return { reason: 'timeout', limitMs: deadline.ms };
  return { reason: 'unreachable' };
}

/** `host:port` of the leader a follower named; undefined when the reply named none usable. */
const leaderOf = (error: NotLeaderError): string | undefined => {
  const { address, port } = error.leader;
  return address.length > 0 && Number.isInteger(port) && port > 0 ? `${address}:${port}` : undefined;
};

/** The client's next call goes to the leader the follower named: worth saying, and where it is. */
const notLeaderMessage = (error: NotLeaderError): string => {
  const leader = leaderOf(error);
  return leader === undefined
    ? "the server is a follower, not the cluster's leader, and named no leader"
    : `the server is a follower, not the cluster's leader; the leader is ${leader}, where the next call goes`;
};

/** The client's message, without the empty `Resolution note: ` gRPC ends an unavailable server's with (review 46). */
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error)).replace(/\s*Resolution note:\s*$/, '');
