/**
 * TEST-ONLY: the Streams calls of the stand-in: Append (BatchAppend is deliberately absent: the client falls back to
 * Append when the server does not advertise it), Read of one stream, Read of $all (forwards and backwards) and
 * catch-up subscriptions to $all with server-side filters, checkpoints and the caught-up marker.
 */
import { randomUUID } from 'node:crypto';
import { status, type ServerReadableStream, type ServerWritableStream, type ServiceError, type sendUnaryData } from '@grpc/grpc-js';
import { sharedPb, streamsPb, streamName, uuidString } from './proto.ts';
import type { Expectation, LoggedEvent, MemoryLog, ProposedEvent } from './memory-log.ts';
import { compileServerFilter } from './filter.ts';
import { runAllSubscription, type SubscriptionControl } from './all-subscription.ts';
import { eventResponse, invalidPositionError, send, streamDeletedError, streamNotFoundResponse } from './wire.ts';
import { notLeaderError, type LeaderEndpoint } from './not-leader.ts';

type AppendReq = InstanceType<typeof streamsPb.AppendReq>;
type AppendResp = InstanceType<typeof streamsPb.AppendResp>;
type ReadReq = InstanceType<typeof streamsPb.ReadReq>;
type ReadResp = InstanceType<typeof streamsPb.ReadResp>;
type ReadOptions = InstanceType<typeof streamsPb.ReadReq.Options>;

export interface StreamsContext {
  readonly log: MemoryLog;
  readonly recordCall: (method: string) => void;
  readonly subscriptions: SubscriptionControl;
  /** Milliseconds to hold the reply to an append to this stream, after writing it (an answer that comes late). */
  readonly appendReplyDelayMs?: ((streamId: string) => number) | undefined;
  /** A follower: every append and read is refused "not leader", naming this leader. */
  readonly notLeader?: LeaderEndpoint | undefined;
  /** Told of every record a read (not a subscription) sends: what a read of a shared cluster's tail costs. */
  readonly recordRead?: ((event: LoggedEvent) => void) | undefined;
  /** A refusal of every append and read for now (the server's answer to credentials it refuses), or undefined. */
  readonly refusal?: (() => Partial<ServiceError> | undefined) | undefined;
}

/**
 * The call log's entry, after 'Read', for a read of $all backwards (not a subscription): from its end, or from a
 * position (a scan paging on past the records it read).
 */
export const READ_ALL_BACKWARDS = { fromTheEnd: 'Read $all backwards from the end', fromAPosition: 'Read $all backwards from a position' } as const;

const backwardReadOfAll = (request: ReadReq): string | undefined => {
  const options = request.getOptions();
  if (options === undefined || !options.hasAll() || options.hasSubscription()) return undefined;
  if (options.getReadDirection() !== streamsPb.ReadReq.Options.ReadDirection.BACKWARDS) return undefined;
  return options.getAll()!.hasPosition() ? READ_ALL_BACKWARDS.fromAPosition : READ_ALL_BACKWARDS.fromTheEnd;
};

export function streamsImplementation(context: StreamsContext) {
  return {
    append: (call: ServerReadableStream<AppendReq, AppendResp>, callback: sendUnaryData<AppendResp>) => {
      context.recordCall('Append');
      if (context.notLeader !== undefined) {
        callback(notLeaderError(context.notLeader));
        return;
      }
      const refused = context.refusal?.();
      if (refused !== undefined) {
        callback(refused);
        return;
      }
      handleAppend(context.log, call, callback, context.appendReplyDelayMs);
    },
    read: (call: ServerWritableStream<ReadReq, ReadResp>) => {
      context.recordCall('Read');
      // Told apart for tests that bound a scan of $all back from its end: a second entry, so 'Read' counts every read.
      const backwards = backwardReadOfAll(call.request);
      if (backwards !== undefined) context.recordCall(backwards);
      if (context.notLeader !== undefined) {
        call.emit('error', notLeaderError(context.notLeader));
        return;
      }
      const refused = context.refusal?.();
      if (refused !== undefined) {
        call.emit('error', refused);
        return;
      }
      handleRead(context, call).catch((error: unknown) => {
        call.emit('error', { code: status.INTERNAL, details: String(error) });
      });
    },
  };
}

function handleAppend(
  log: MemoryLog,
  call: ServerReadableStream<AppendReq, AppendResp>,
  callback: sendUnaryData<AppendResp>,
  replyDelayMs?: (streamId: string) => number,
): void {
  let options: InstanceType<typeof streamsPb.AppendReq.Options> | undefined;
  const proposed: ProposedEvent[] = [];
  call.on('data', (request: AppendReq) => {
    if (request.hasOptions()) options = request.getOptions();
    const message = request.getProposedMessage();
    if (message === undefined) return;
    const metadata = message.getMetadataMap();
    proposed.push({
      id: uuidString(message.getId()),
      type: metadata.get('type') ?? '',
      contentType: metadata.get('content-type') ?? 'application/octet-stream',
      data: message.getData_asU8(),
      customMetadata: message.getCustomMetadata_asU8(),
    });
  });
  call.on('end', () => {
    if (options === undefined) {
      callback({ code: status.INVALID_ARGUMENT, details: 'append without options' });
      return;
    }
    const streamId = streamName(options.getStreamIdentifier());
    const outcome = log.append(streamId, expectation(options), proposed);
    if (outcome.kind === 'stream_deleted') {
      callback(streamDeletedError(streamId));
      return;
    }
    const response = new streamsPb.AppendResp();
    if (outcome.kind === 'success') {
      const success = new streamsPb.AppendResp.Success();
      if (outcome.revision === undefined) success.setNoStream(new sharedPb.Empty());
      else success.setCurrentRevision(outcome.revision.toString());
      if (outcome.position === undefined) success.setNoPosition(new sharedPb.Empty());
      else {
        const position = outcome.position.toString();
        success.setPosition(new streamsPb.AppendResp.Position().setCommitPosition(position).setPreparePosition(position));
      }
      response.setSuccess(success);
    } else {
      const wrong = new streamsPb.AppendResp.WrongExpectedVersion();
      if (outcome.current === undefined) wrong.setCurrentNoStream(new sharedPb.Empty());
      else wrong.setCurrentRevision(outcome.current.toString());
      const expected = outcome.expected;
      if (expected.kind === 'revision') wrong.setExpectedRevision(expected.revision.toString());
      else if (expected.kind === 'no_stream') wrong.setExpectedNoStream(new sharedPb.Empty());
      else if (expected.kind === 'stream_exists') wrong.setExpectedStreamExists(new sharedPb.Empty());
      else wrong.setExpectedAny(new sharedPb.Empty());
      response.setWrongExpectedVersion(wrong);
    }
    const delay = replyDelayMs?.(streamId) ?? 0;
    if (delay > 0) setTimeout(() => callback(null, response), delay);
    else callback(null, response);
  });
}

function expectation(options: InstanceType<typeof streamsPb.AppendReq.Options>): Expectation {
  if (options.hasRevision()) return { kind: 'revision', revision: BigInt(options.getRevision()) };
  if (options.hasNoStream()) return { kind: 'no_stream' };
  if (options.hasStreamExists()) return { kind: 'stream_exists' };
  return { kind: 'any' };
}

async function handleRead(context: StreamsContext, call: ServerWritableStream<ReadReq, ReadResp>): Promise<void> {
  const options = call.request.getOptions();
  if (options === undefined) {
    call.emit('error', { code: status.INVALID_ARGUMENT, details: 'read without options' });
    return;
  }
  if (options.hasSubscription()) {
    if (!options.hasAll()) {
      call.emit('error', { code: status.UNIMPLEMENTED, details: 'the stand-in only subscribes to $all' });
      return;
    }
    await runAllSubscription(context, call, options, randomUUID());
    return;
  }
  const from = options.getAll()?.getPosition();
  if (from !== undefined && context.log.isInsideARecord(BigInt(from.getCommitPosition()))) {
    call.emit('error', invalidPositionError());
    return;
  }
  const named = options.hasAll() ? undefined : streamName(options.getStream()?.getStreamIdentifier());
  if (named !== undefined && context.log.isTombstoned(named)) {
    call.emit('error', streamDeletedError(named));
    return;
  }
  const events = options.hasAll() ? readAll(context.log, options) : readStream(context.log, options);
  if (events === undefined) {
    await send(call, streamNotFoundResponse(streamName(options.getStream()?.getStreamIdentifier())));
  } else {
    for (const event of events) {
      context.recordRead?.(event);
      if (!(await send(call, eventResponse(event, options.hasAll())))) return;
    }
  }
  call.end();
}

function readStream(log: MemoryLog, options: ReadOptions): Iterable<LoggedEvent> | undefined {
  const streamOptions = options.getStream()!;
  const name = streamName(streamOptions.getStreamIdentifier());
  const stored = log.stream(name);
  if (stored === undefined) return undefined;
  // A truncated stream ($tb) reads from its first readable revision; revisions are indexes past it.
  const first = log.firstReadable(name);
  const events = first === 0n ? stored : stored.slice(Number(first));
  const backwards = options.getReadDirection() === streamsPb.ReadReq.Options.ReadDirection.BACKWARDS;
  const count = BigInt(options.getCount());
  const last = events.length - 1;
  const from = streamOptions.hasRevision()
    ? Number(BigInt(streamOptions.getRevision()) - first)
    : streamOptions.hasEnd()
      ? backwards
        ? last
        : events.length
      : backwards
        ? -1
        : 0;
  return take(walk(events, backwards ? Math.min(from, last) : from, backwards), count);
}

function readAll(log: MemoryLog, options: ReadOptions): Iterable<LoggedEvent> {
  const allOptions = options.getAll()!;
  const backwards = options.getReadDirection() === streamsPb.ReadReq.Options.ReadDirection.BACKWARDS;
  const count = BigInt(options.getCount());
  const filter = compileServerFilter(options.getFilter());
  let start: number;
  if (allOptions.hasPosition()) {
    // Forwards the position is inclusive; backwards it is the end of the previous record, so exclusive.
    const index = log.indexAtOrAfter(BigInt(allOptions.getPosition()!.getCommitPosition()));
    start = backwards ? index - 1 : index;
  } else if (allOptions.hasEnd()) start = backwards ? log.all.length - 1 : log.all.length;
  else start = backwards ? -1 : 0;
  const events = walk(log.all, start, backwards);
  return take(filter === undefined ? events : only(events, filter.matches), count);
}

function* walk(events: readonly LoggedEvent[], from: number, backwards: boolean): Generator<LoggedEvent> {
  if (backwards) for (let i = from; i >= 0; i -= 1) yield events[i]!;
  else for (let i = Math.max(0, from); i < events.length; i += 1) yield events[i]!;
}

function* only(events: Iterable<LoggedEvent>, keep: (event: LoggedEvent) => boolean): Generator<LoggedEvent> {
  for (const event of events) if (keep(event)) yield event;
}

function* take(events: Iterable<LoggedEvent>, count: bigint): Generator<LoggedEvent> {
  let left = count;
  if (left <= 0n) return;
  for (const event of events) {
    yield event;
    left -= 1n;
    if (left <= 0n) return;
  }
}
