import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { App } from './context.ts';
import { overloaded } from './problems.ts';
import { SHED_EXEMPT } from './protection.ts';

/**
 * Not refused for unsent answers: the probes and metrics (as load shedding spares them, protection.ts), and the event
 * stream, which holds at most `sseHighWaterBytes` for its client and is cut when that client stalls (sse/).
 */
const EXEMPT = new Set([...SHED_EXEMPT, '/v1/events']);

/** Bytes of an answer Fastify writes at once; a stream it pipes (a file) waits on its socket and holds a chunk at most. */
const bytesOf = (payload: unknown): number => {
  if (typeof payload === 'string') return Buffer.byteLength(payload);
  if (payload instanceof Uint8Array) return payload.byteLength;
  return 0;
};

/**
 * Review 242 F2: an answer is handed to its socket whole (`res.end(payload)`), and Node holds what the kernel has not
 * taken until the client reads it: 40 clients that read none of a 4.4 MB answer held 179 MB of heap and 340 MB of
 * RSS, and `maxConnections` such clients would pass the heap limit and end the process. The rate limit does not
 * bound it, nor does the socket timeout: it cuts a client that takes nothing one to two `connectionTimeoutMs` after
 * its last progress, but Node counts any byte the kernel takes as activity, so a client reading a little now and then
 * is never idle (measured with a 2 s timeout: cut at 4.1 s; a slow reader kept its socket 16 s). So the bytes of every
 * answer are counted from its onSend until its response ends ('finish': the last byte is with the kernel; 'close':
 * done, or the socket gone), and while the total is over `maxBytes` a new request (but the probes and the event
 * stream) is refused before any work, 503 `overloaded`, reason `unsent_answers`, with Retry-After. Counting from the
 * first byte to the last over-counts an answer part taken; `socket.writableLength` is no finer, as Node counts a
 * write done only when all of it is. 0 turns the check off.
 */
export const boundUnsentAnswers = (app: App, limits: { readonly maxUnsentAnswerBytes: number; readonly retryAfterSeconds: number }): void => {
  const maxBytes = limits.maxUnsentAnswerBytes;
  if (maxBytes === 0) return;
  let unsent = 0;
  let refusing = false;
  /** The releases of the answers counted on each connection, run when it closes. */
  const pendingOn = new WeakMap<Socket, Set<() => void>>();

  app.addHook('onRequest', async (request) => {
    if (unsent <= maxBytes) {
      refusing = false;
      return;
    }
    if (EXEMPT.has(request.routeOptions.url ?? '')) return;
    if (!refusing) {
      // Once per spell: each refusal is counted as the 503 it is (server.ts, onResponse).
      refusing = true;
      request.log.warn({ unsentAnswerBytes: unsent, maxUnsentAnswerBytes: maxBytes }, 'answers not yet taken by their clients are past limits.maxUnsentAnswerBytes: refusing new requests');
    }
    throw overloaded(limits.retryAfterSeconds, 'unsent_answers');
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const bytes = bytesOf(payload);
    const raw: ServerResponse = reply.raw;
    const socket = request.raw.socket as Socket | null;
    // A client gone before its answer (a query it stopped waiting for, a hello hung up on during its floor): its
    // 'close' has fired already and no 'finish' will, so counted now its bytes would stay counted for good and the
    // service would refuse every request but the probes until it restarts (review 244).
    if (bytes === 0 || raw.destroyed || raw.writableFinished || socket === null || socket.destroyed) return payload;
    unsent += bytes;
    let counted = true;
    const release = (): void => {
      if (!counted) return;
      counted = false;
      unsent -= bytes;
      pendingOn.get(socket)?.delete(release);
    };
    raw.once('finish', release);
    raw.once('close', release);
    // An answer to a pipelined request waits behind the one ahead of it and is not the socket's until that one
    // finishes: a client gone meanwhile fires neither event on it (review 246), so the connection's end releases it.
    // One listener a connection, however many answers wait on it.
    let pending = pendingOn.get(socket);
    if (pending === undefined) {
      const releases = new Set<() => void>();
      pending = releases;
      pendingOn.set(socket, releases);
      socket.once('close', () => {
        for (const waiting of [...releases]) waiting();
        pendingOn.delete(socket);
      });
    }
    pending.add(release);
    return payload;
  });
};
