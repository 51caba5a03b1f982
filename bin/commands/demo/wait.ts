import { subscribeEvents } from '../../../adapters/client/sse.ts';
import type { ServerTarget } from '../options.ts';

/** One event as GET /v1/events sends it to an operator or an auditor (canonical identifiers). */
export interface SeenEvent {
  readonly position: string;
  readonly streamId: string;
  readonly type: string;
  readonly actor: string;
  readonly reason?: string;
}

const seen = (data: string): SeenEvent => {
  const e = JSON.parse(data) as { position: string; streamId: string; type: string; data?: { reason?: unknown }; metadata?: { actor?: { id?: unknown } } };
  const reason = e.data?.reason;
  return {
    position: String(e.position),
    streamId: e.streamId,
    type: e.type,
    actor: String(e.metadata?.actor?.id ?? '?'),
    ...(typeof reason === 'string' ? { reason } : {}),
  };
};

export interface Expected {
  readonly streamId: string;
  readonly type: string;
}

/**
 * Waits on the server's event stream, as an integrator would, for what the live runtime does by itself (the
 * cascade, the expiry scheduler): resumes strictly after `after` (the position of the command that set it off),
 * so nothing that happened in between is missed; calls `onEvent` for each expected event as it arrives. Throws
 * when `timeoutMs` passes first, naming what never came, and `signal`'s reason when it aborts (shutdown).
 */
export const waitForEvents = async (
  target: ServerTarget,
  r: { readonly after: string; readonly expected: readonly Expected[]; readonly timeoutMs: number; readonly signal: AbortSignal },
  onEvent: (event: SeenEvent) => void,
): Promise<void> => {
  const key = (e: Expected): string => `${e.streamId} ${e.type}`;
  const missing = new Set(r.expected.map(key));
  const streams = [...new Set(r.expected.map((e) => e.streamId))].join(',');
  const types = [...new Set(r.expected.map((e) => e.type))].join(',');
  const timeout = AbortSignal.timeout(r.timeoutMs);
  const events = subscribeEvents(target.url, {
    path: `/v1/events?stream=${encodeURIComponent(streams)}&type=${encodeURIComponent(types)}`,
    token: target.token,
    lastEventId: r.after,
    signal: AbortSignal.any([r.signal, timeout]),
  });
  for await (const message of events) {
    const event = seen(message.data);
    if (!missing.delete(key(event))) continue;
    onEvent(event);
    if (missing.size === 0) return;
  }
  r.signal.throwIfAborted();
  throw new Error(`waited ${r.timeoutMs / 1000} s on GET /v1/events for ${[...missing].join(', ')}: the live runtime did not get there`);
};
