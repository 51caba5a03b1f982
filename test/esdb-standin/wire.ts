/**
 * TEST-ONLY: conversions between the stand-in's in-memory log and the Streams protobuf messages, and a write that
 * honours gRPC flow control (a slow client makes the stand-in wait, as a real server's buffers would).
 */
import { Metadata, status, type ServerWritableStream } from '@grpc/grpc-js';
import { sharedPb, streamsPb, streamIdentifier, uuidMessage } from './proto.ts';
import type { LoggedEvent } from './memory-log.ts';

type ReadResp = InstanceType<typeof streamsPb.ReadResp>;
type RecordedEventMessage = InstanceType<typeof streamsPb.ReadResp.ReadEvent.RecordedEvent>;

/** The setters both the Streams and the PersistentSubscriptions RecordedEvent messages have. */
interface RecordedEventFields {
  setId(id: ReturnType<typeof uuidMessage>): this;
  setStreamIdentifier(id: ReturnType<typeof streamIdentifier>): this;
  setStreamRevision(revision: string): this;
  setCommitPosition(position: string): this;
  setPreparePosition(position: string): this;
  setData(data: Uint8Array | string): this;
  setCustomMetadata(metadata: Uint8Array | string): this;
  getMetadataMap(): { set(key: string, value: string): unknown };
}

/** Fills either service's RecordedEvent message from a logged event. */
export function fillRecordedEvent<M extends RecordedEventFields>(message: M, event: LoggedEvent): M {
  message
    .setId(uuidMessage(event.id))
    .setStreamIdentifier(streamIdentifier(event.streamId))
    .setStreamRevision(event.revision.toString())
    .setCommitPosition(event.position.toString())
    .setPreparePosition(event.position.toString())
    .setData(event.data)
    .setCustomMetadata(event.customMetadata);
  const metadata = message.getMetadataMap();
  metadata.set('type', event.type);
  metadata.set('content-type', event.contentType);
  metadata.set('created', event.createdTicks.toString());
  return message;
}

export function recordedEventMessage(event: LoggedEvent): RecordedEventMessage {
  return fillRecordedEvent(new streamsPb.ReadResp.ReadEvent.RecordedEvent(), event);
}

export function eventResponse(event: LoggedEvent, withCommitPosition: boolean): ReadResp {
  const readEvent = new streamsPb.ReadResp.ReadEvent().setEvent(recordedEventMessage(event));
  if (withCommitPosition) readEvent.setCommitPosition(event.position.toString());
  else readEvent.setNoPosition(new sharedPb.Empty());
  return new streamsPb.ReadResp().setEvent(readEvent);
}

export function checkpointResponse(position: bigint): ReadResp {
  const checkpoint = new streamsPb.ReadResp.Checkpoint()
    .setCommitPosition(position.toString())
    .setPreparePosition(position.toString());
  return new streamsPb.ReadResp().setCheckpoint(checkpoint);
}

export const caughtUpResponse = (): ReadResp => new streamsPb.ReadResp().setCaughtUp(new streamsPb.ReadResp.CaughtUp());

export function confirmationResponse(subscriptionId: string): ReadResp {
  return new streamsPb.ReadResp().setConfirmation(
    new streamsPb.ReadResp.SubscriptionConfirmation().setSubscriptionId(subscriptionId),
  );
}

export function streamNotFoundResponse(streamId: string): ReadResp {
  return new streamsPb.ReadResp().setStreamNotFound(
    new streamsPb.ReadResp.StreamNotFound().setStreamIdentifier(streamIdentifier(streamId)),
  );
}

/**
 * What a real server answers a read or subscription from a position inside a record (its `RpcExceptions
 * .InvalidPositionException`): INVALID_ARGUMENT, with no `exception` metadata, so the client makes it an UnknownError.
 */
export const invalidPositionError = () => ({ code: status.INVALID_ARGUMENT, details: 'Trying to read from an invalid position.' });

/**
 * What a real server answers a read of, or an append to, a hard-deleted stream (RpcExceptions.StreamDeleted):
 * FAILED_PRECONDITION with `exception: stream-deleted` and the stream's name, which the client makes a
 * StreamDeletedError.
 */
export function streamDeletedError(streamId: string) {
  const metadata = new Metadata();
  metadata.set('exception', 'stream-deleted');
  metadata.set('stream-name', streamId);
  return { code: status.FAILED_PRECONDITION, details: `Event stream '${streamId}' is deleted.`, metadata };
}

/** Resolves false when the client went away while the stand-in waited for room in the flow-control window. */
export async function send<T>(call: ServerWritableStream<unknown, T>, message: T): Promise<boolean> {
  if (call.cancelled || call.destroyed) return false;
  if (call.write(message)) return true;
  return new Promise((resolve) => {
    const settle = (value: boolean): void => {
      call.off('drain', onDrain);
      call.off('cancelled', onGone);
      call.off('close', onGone);
      resolve(value);
    };
    const onDrain = (): void => settle(true);
    const onGone = (): void => settle(false);
    call.on('drain', onDrain);
    call.on('cancelled', onGone);
    call.on('close', onGone);
  });
}
