/**
 * TEST-ONLY: persistent subscriptions to $all as the stand-in serves them: Create (a group with a start, a filter
 * and a retry limit; ALREADY_EXISTS the second time) and Read (a consumer connection with a buffer of in-flight
 * events, acks, nacks with retry / park / skip, redelivery of in-flight events when a consumer goes away).
 * Round-robin over the consumers of a group; no message timeouts, no checkpoint stream.
 */
import { randomUUID } from 'node:crypto';
import {
  Metadata,
  status,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { persistentPb, uuidString } from './proto.ts';
import type { LoggedEvent, MemoryLog } from './memory-log.ts';
import { compileServerFilter, type ServerFilter } from './filter.ts';
import { fillRecordedEvent } from './wire.ts';

type CreateReq = InstanceType<typeof persistentPb.CreateReq>;
type CreateResp = InstanceType<typeof persistentPb.CreateResp>;
type ReadReq = InstanceType<typeof persistentPb.ReadReq>;
type ReadResp = InstanceType<typeof persistentPb.ReadResp>;

interface Delivery {
  readonly event: LoggedEvent;
  readonly retryCount: number;
}

export interface Group {
  readonly name: string;
  readonly filter: ServerFilter | undefined;
  readonly maxRetryCount: number;
  cursor: number;
  readonly retries: Delivery[];
  readonly parked: Delivery[];
  readonly consumers: Set<() => void>;
}

export interface PersistentContext {
  readonly log: MemoryLog;
  readonly groups: Map<string, Group>;
  readonly recordCall: (method: string) => void;
  /** Open consumer connections, each with a way to fail it as UNAVAILABLE (to test reconnection). */
  readonly connections: Set<() => void>;
}

export function persistentImplementation(context: PersistentContext) {
  return {
    create: (call: ServerUnaryCall<CreateReq, CreateResp>, callback: sendUnaryData<CreateResp>) => {
      context.recordCall('PersistentCreate');
      const options = call.request.getOptions();
      const all = options?.getAll();
      if (options === undefined || all === undefined) {
        callback({ code: status.UNIMPLEMENTED, details: 'the stand-in only serves persistent subscriptions to $all' });
        return;
      }
      const name = options.getGroupName();
      if (context.groups.has(name)) {
        callback({ code: status.ALREADY_EXISTS, details: `group ${name} exists`, metadata: failure('persistent-subscription-exists', name) });
        return;
      }
      const cursor = all.hasEnd() ? context.log.all.length : all.hasPosition() ? context.log.indexAtOrAfter(BigInt(all.getPosition()!.getCommitPosition())) : 0;
      context.groups.set(name, {
        name,
        filter: compileServerFilter(all.getFilter()),
        maxRetryCount: options.getSettings()?.getMaxRetryCount() ?? 10,
        cursor,
        retries: [],
        parked: [],
        consumers: new Set(),
      });
      callback(null, new persistentPb.CreateResp());
    },
    read: (call: ServerDuplexStream<ReadReq, ReadResp>) => {
      context.recordCall('PersistentRead');
      serveConsumer(context, call);
    },
  };
}

function failure(exception: string, group: string): Metadata {
  const metadata = new Metadata();
  metadata.set('exception', exception);
  metadata.set('stream-name', '$all');
  metadata.set('group-name', group);
  return metadata;
}

function serveConsumer(context: PersistentContext, call: ServerDuplexStream<ReadReq, ReadResp>): void {
  let group: Group | undefined;
  let bufferSize = 10;
  const inFlight = new Map<string, Delivery>();
  let open = true;

  const pump = (): void => {
    if (!open || group === undefined) return;
    while (inFlight.size < bufferSize) {
      const delivery = group.retries.shift() ?? nextFromLog(context.log, group);
      if (delivery === undefined) return;
      inFlight.set(delivery.event.id, delivery);
      call.write(eventMessage(delivery));
    }
  };
  const close = (): void => {
    if (!open) return;
    open = false;
    unlisten();
    context.connections.delete(fail);
    if (group === undefined) return;
    group.consumers.delete(pump);
    // A consumer that goes away without acking gets its events redelivered to the others, counted as a retry.
    for (const delivery of inFlight.values()) group.retries.push({ ...delivery, retryCount: delivery.retryCount + 1 });
    for (const other of group.consumers) other();
  };
  const unlisten = context.log.onAppend(pump);
  const fail = (): void => {
    call.emit('error', { code: status.UNAVAILABLE, details: 'stand-in dropped the consumer' });
    close();
  };
  context.connections.add(fail);

  call.on('data', (request: ReadReq) => {
    const options = request.getOptions();
    if (options !== undefined) {
      group = context.groups.get(options.getGroupName());
      if (group === undefined) {
        call.emit('error', { code: status.NOT_FOUND, details: 'no such group', metadata: failure('persistent-subscription-does-not-exist', options.getGroupName()) });
        close();
        return;
      }
      bufferSize = Math.max(1, options.getBufferSize());
      group.consumers.add(pump);
      call.write(new persistentPb.ReadResp().setSubscriptionConfirmation(new persistentPb.ReadResp.SubscriptionConfirmation().setSubscriptionId(randomUUID())));
      pump();
      return;
    }
    if (group === undefined) return;
    const ack = request.getAck();
    if (ack !== undefined) for (const id of ack.getIdsList()) inFlight.delete(uuidString(id));
    const nack = request.getNack();
    if (nack !== undefined) for (const id of nack.getIdsList()) settleNack(group, inFlight, uuidString(id), nack.getAction());
    pump();
  });
  call.on('end', () => {
    close();
    call.end();
  });
  call.on('cancelled', close);
  call.on('close', close);
}

function settleNack(group: Group, inFlight: Map<string, Delivery>, id: string, action: number): void {
  const delivery = inFlight.get(id);
  if (delivery === undefined) return;
  inFlight.delete(id);
  const Action = persistentPb.ReadReq.Nack.Action;
  if (action === Action.RETRY) {
    const retried = { ...delivery, retryCount: delivery.retryCount + 1 };
    if (retried.retryCount > group.maxRetryCount) group.parked.push(retried);
    else group.retries.push(retried);
  } else if (action === Action.PARK || action === Action.STOP) group.parked.push(delivery);
}

function nextFromLog(log: MemoryLog, group: Group): Delivery | undefined {
  while (group.cursor < log.all.length) {
    const event = log.all[group.cursor]!;
    group.cursor += 1;
    if (group.filter === undefined || group.filter.matches(event)) return { event, retryCount: 0 };
  }
  return undefined;
}

function eventMessage({ event, retryCount }: Delivery): ReadResp {
  const recorded = fillRecordedEvent(new persistentPb.ReadResp.ReadEvent.RecordedEvent(), event);
  const readEvent = new persistentPb.ReadResp.ReadEvent()
    .setEvent(recorded)
    .setCommitPosition(event.position.toString())
    .setRetryCount(retryCount);
  return new persistentPb.ReadResp().setEvent(readEvent);
}
