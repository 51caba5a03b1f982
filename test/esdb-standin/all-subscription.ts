/**
 * TEST-ONLY: a catch-up subscription to $all as the stand-in serves it. Like the real server it confirms, skips the
 * record at a start position (start positions are exclusive; one inside a record fails the subscription with
 * INVALID_ARGUMENT: the stand-in used to start after the next event, which hid a gap, review 132), reads history,
 * sends `caughtUp`, then follows appends; with a filter it sends a checkpoint every `window x multiplier` events
 * considered. Catch-up and live are one cursor over the append-only log, so the stand-in itself never loses or
 * repeats an event: any gap or duplicate a test sees comes from the client side.
 *
 * Tests can make it drop a subscription on demand, mid-way, the way a real server drops a slow consumer or a node
 * goes away: `end` finishes the call cleanly, `unavailable` fails it with gRPC status UNAVAILABLE.
 */
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import type { streamsPb } from './proto.ts';
import type { MemoryLog } from './memory-log.ts';
import { compileServerFilter } from './filter.ts';
import { caughtUpResponse, checkpointResponse, confirmationResponse, eventResponse, invalidPositionError, send } from './wire.ts';

type ReadReq = InstanceType<typeof streamsPb.ReadReq>;
type ReadResp = InstanceType<typeof streamsPb.ReadResp>;
type ReadOptions = InstanceType<typeof streamsPb.ReadReq.Options>;

export type DropMode = 'end' | 'unavailable';

/** Drop bookkeeping shared by every subscription of one stand-in. */
export class SubscriptionControl {
  readonly active = new Set<(mode: DropMode) => void>();
  private plan: { remaining: number; mode: DropMode } | undefined;
  dropped = 0;
  /** Events sent over $all subscriptions: proves filtering happened on the server, not in the client. */
  eventsSent = 0;

  /** Drops every subscription open now. */
  dropAll(mode: DropMode): void {
    for (const drop of [...this.active]) drop(mode);
  }

  /** Drops whichever subscription sends the `events`-th event from now on (once). */
  dropAfter(events: number, mode: DropMode): void {
    this.plan = { remaining: events, mode };
  }

  /** Called after each event sent; answers the mode to drop with, if the plan says so. */
  eventSent(): DropMode | undefined {
    this.eventsSent += 1;
    if (this.plan === undefined) return undefined;
    this.plan.remaining -= 1;
    if (this.plan.remaining > 0) return undefined;
    const mode = this.plan.mode;
    this.plan = undefined;
    return mode;
  }
}

interface Context {
  readonly log: MemoryLog;
  readonly subscriptions: SubscriptionControl;
}

export async function runAllSubscription(
  context: Context,
  call: ServerWritableStream<ReadReq, ReadResp>,
  options: ReadOptions,
  subscriptionId: string,
): Promise<void> {
  const { log, subscriptions } = context;
  const filter = compileServerFilter(options.getFilter());
  let open = true;
  let wake: (() => void) | undefined;
  const drop = (mode: DropMode): void => {
    if (!open) return;
    open = false;
    subscriptions.dropped += 1;
    if (mode === 'end') call.end();
    else call.emit('error', { code: status.UNAVAILABLE, details: 'stand-in dropped the subscription' });
    wake?.();
  };
  const stop = (): void => {
    open = false;
    wake?.();
  };
  subscriptions.active.add(drop);
  call.on('cancelled', stop);
  call.on('close', stop);
  const unlisten = log.onAppend(() => wake?.());
  try {
    if (!(await send(call, confirmationResponse(subscriptionId)))) return;
    const start = startIndex(log, options.getAll()!);
    if (start === undefined) {
      open = false;
      call.emit('error', invalidPositionError());
      return;
    }
    let cursor = start;
    // Where the cursor stands as a position, so that a scavenge (MemoryLog.scavenge, a test hook) does not move it.
    let passed = log.all[start - 1]?.position;
    let removals = log.removals;
    let considered = 0;
    let caughtUp = false;
    while (open) {
      if (removals !== log.removals) {
        removals = log.removals;
        cursor = passed === undefined ? 0 : log.indexAtOrAfter(passed + 1n);
      }
      const event = log.all[cursor];
      if (event === undefined) {
        if (!caughtUp) {
          caughtUp = true;
          if (!(await send(call, caughtUpResponse()))) return;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      cursor += 1;
      passed = event.position;
      considered += 1;
      if (filter === undefined || filter.matches(event)) {
        if (!(await send(call, eventResponse(event, true)))) return;
        const mode = subscriptions.eventSent();
        if (mode !== undefined) drop(mode);
      }
      if (open && filter !== undefined && considered % filter.checkpointEvery === 0) {
        if (!(await send(call, checkpointResponse(event.position)))) return;
      }
    }
  } finally {
    unlisten();
    subscriptions.active.delete(drop);
  }
}

/** Undefined for a position inside a record, which the server refuses. */
function startIndex(log: MemoryLog, all: InstanceType<typeof streamsPb.ReadReq.Options.AllOptions>): number | undefined {
  if (all.hasEnd()) return log.all.length;
  if (!all.hasPosition()) return 0;
  const position = BigInt(all.getPosition()!.getCommitPosition());
  if (log.isInsideARecord(position)) return undefined;
  // The record at the position (an event's, or the epoch record's) is the one the subscription starts after.
  const index = log.indexAtOrAfter(position);
  return Math.min(index + (log.all[index]?.position === position ? 1 : 0), log.all.length);
}
