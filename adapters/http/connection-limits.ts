import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import { normalizeIP } from '@fastify/rate-limit';
import type { Socket } from 'node:net';
import type { ConnectionError } from 'fastify';
import { afterAnIoTurn, answerClientError, trackOwedAnswers } from './client-error-handler.ts';

/**
 * File descriptors kept for everything that is not a client's socket (the event store and its WAL, the read models,
 * access.db, the Secure Environment's files, the PKI's files, log streams, a CLI's folder lock): the service must be
 * able to open them whatever its clients hold.
 */
export const RESERVED_DESCRIPTORS = 128;

/**
 * The process's soft limit on open files, from /proc/self/limits (Linux); undefined elsewhere or when unlimited.
 * Node has no API for getrlimit, and `ulimit -n` is what an attacker's idle sockets run into.
 */
export const openFilesLimit = (read: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | undefined => {
  try {
    const line = read()
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line === undefined ? undefined : /^Max open files\s+(\d+|unlimited)\s/.exec(line)?.[1];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
};

export interface ConnectionLimits {
  /** Client connections open at once, all addresses together. */
  readonly maxConnections: number;
  /** Client connections open at once from one source address (an IPv6 /64 counts as one, as for the rate limit). */
  readonly maxConnectionsPerAddress: number;
  /**
   * How long a connection may stay open without a request begun (its headers read); 0: the server's headers timeout
   * (Node's 60 s) instead, never no bound. Node's own timeouts left a socket that never sent a byte open for minutes
   * (found in review), so idle sockets held the slots above. A request begun by then is answered the 408 problem Node's
   * headers timeout would send, which this bound, ending first, kept from going out.
   */
  readonly requestTimeoutMs: number;
}

/** What Node's headers timeout raises, for the answer of the HTTP parser's refusals (clientErrorAnswer, problems.ts). */
const requestTimedOut = (): ConnectionError =>
  Object.assign(new Error('the request was not received within limits.requestTimeoutMs'), { code: 'ERR_HTTP_REQUEST_TIMEOUT', bytesParsed: 0, rawPacket: { type: 'Buffer', data: [] } });

/** Node's headers timeout when a server says none. */
const NODE_HEADERS_TIMEOUT_MS = 60_000;

/**
 * How long a connection may go without beginning a request: `requestTimeoutMs`, or with 0 the server's headers timeout
 * (request-head.ts keeps Node's 60 s then), read as the connection opens.
 */
const noRequestBoundMs = (server: Server, limits: ConnectionLimits): number =>
  limits.requestTimeoutMs > 0 ? limits.requestTimeoutMs : server.headersTimeout > 0 ? server.headersTimeout : NODE_HEADERS_TIMEOUT_MS;

export interface ConnectionLimiter {
  /** The bound in force: `maxConnections`, lowered to leave `RESERVED_DESCRIPTORS` under the open-files limit. */
  readonly maxConnections: number;
  /** Set when `maxConnections` was lowered so: what the operator should hear once. */
  readonly lowered?: { readonly configured: number; readonly openFilesLimit: number };
  /** Connections open now from `address` (tests, metrics). */
  openFrom(address: string): number;
}

/**
 * SER-001 "no cheap way to exhaust the service", below HTTP: the number of sockets. Without a bound, idle sockets
 * from one host that never send a request (no rate limit sees them) ran the process out of file descriptors, and a
 * timer of the load-shedding plugin that opens /proc/self/stat threw EMFILE and ended the process (found in review).
 * Node refuses connections past `server.maxConnections` before they reach HTTP; one address past its own share is
 * closed as it connects, so one host cannot take every slot. Behind a proxy every client has the proxy's address:
 * raise the share to what the proxy opens.
 */
export const limitConnections = (
  server: Server,
  limits: ConnectionLimits,
  options: { readonly openFiles?: number | undefined; readonly onRefused?: (reason: 'total' | 'address') => void } = {},
): ConnectionLimiter => {
  const openFiles = 'openFiles' in options ? options.openFiles : openFilesLimit();
  const ceiling = openFiles === undefined ? Number.POSITIVE_INFINITY : Math.max(1, openFiles - RESERVED_DESCRIPTORS);
  const maxConnections = Math.min(limits.maxConnections, ceiling);
  server.maxConnections = maxConnections;
  server.on('drop', () => options.onRefused?.('total'));
  // Every port runs this: the answers each connection owes, for where a parser refusal may be written (review 449).
  trackOwedAnswers(server);
  const open = new Map<string, number>();
  /** Sockets that have not begun a request yet, each with the timer that closes it if none comes. */
  const waiting = new WeakMap<Socket, NodeJS.Timeout>();
  const begun = (socket: Socket): void => {
    clearTimeout(waiting.get(socket));
    waiting.delete(socket);
  };
  server.on('connection', (socket: Socket) => {
    const address = normalizeIP(socket.remoteAddress ?? 'unknown');
    const count = (open.get(address) ?? 0) + 1;
    if (count > limits.maxConnectionsPerAddress) {
      options.onRefused?.('address');
      socket.destroy();
      return;
    }
    open.set(address, count);
    // A request begun (a byte of it read) gets the 408 problem, written here and the socket closed, as Node's headers
    // timeout does (answerClientError): a silent destroy at the same bound came first, and the headers of a
    // connection's first request sent too slowly got no answer (review 199). Not a bound set past Node's check
    // instead: when that check runs is Node's, and this one stays exact whatever it does. A socket that sent nothing
    // has no request to answer, and is closed. Judged after one more turn of the loop's I/O (afterAnIoTurn): what a
    // busy loop had not read yet is read then, not taken for silence (issue 1072).
    // On whatever the setting (review 444): Node stops timing a socket its check found with nothing read, and one whose
    // first bytes came in the turn that check was put off to is timed by this bound alone, from the connection's start:
    // a CRLF (which Node's parser skips, beginning no message) held it open for good with the setting 0, and a first
    // byte would have had a whole headers timeout again.
    const timer = setTimeout(
      () =>
        afterAnIoTurn(() => {
          if (!waiting.has(socket)) return;
          if (socket.bytesRead > 0) answerClientError(requestTimedOut(), socket);
          else socket.destroy();
        }),
      noRequestBoundMs(server, limits),
    );
    timer.unref();
    waiting.set(socket, timer);
    socket.once('close', () => {
      begun(socket);
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
  // Once a request has begun, Node's request and keep-alive timeouts govern the connection.
  server.on('request', (request: IncomingMessage) => begun(request.socket));
  return {
    maxConnections,
    ...(maxConnections < limits.maxConnections ? { lowered: { configured: limits.maxConnections, openFilesLimit: openFiles! } } : {}),
    openFrom: (address) => open.get(normalizeIP(address)) ?? 0,
  };
};
