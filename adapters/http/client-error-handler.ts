import type { Socket } from 'node:net';
import type { ConnectionError } from 'fastify';
import { clientErrorAnswer } from './problems.ts';

/**
 * Fastify's `clientErrorHandler` of every listener: a request the HTTP parser refused, before there is any request or
 * reply, is answered as problem+json with the baseline headers and `no-store` (clientErrorAnswer), and its socket
 * closed. One function for both ports: the probe port had none, and answered Fastify's plain JSON with no security
 * headers.
 */
export const answerClientError = (error: ConnectionError, socket: Socket): void => {
  const answer = socket.destroyed ? undefined : clientErrorAnswer(error);
  if (answer !== undefined && socket.writable) socket.write(answer);
  socket.destroy(error);
};
