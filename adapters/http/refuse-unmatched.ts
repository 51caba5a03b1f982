import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from './context.ts';
import type { HttpProblem } from './problems.ts';

/**
 * A request no route matches is counted against its address's rate limit and answered 404 as it arrives, before its
 * body is read: the not-found handler runs after the body is parsed, so a body that failed to parse (or broke the
 * JSON limits) was a 400 no rate limit ever counted, and anyone could have the service parse a megabyte at will
 * (SER-001; found in review). The rate limit's global budget, which a route with a budget of its own (`/readyz`) does
 * not share. Both ports (server.ts; probe-server.ts, review 429: its unknown paths took no budget at all). Added once
 * the rate limit is registered.
 */
export const refuseUnmatchedBeforeTheBody = (app: App, noRoute: (request: FastifyRequest) => HttpProblem): void => {
  const limit = app.rateLimit();
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.url !== undefined) return;
    await limit.call(app, request, reply);
    throw noRoute(request);
  });
};

/**
 * A caller over its rate limit keeps no connection open: cheap requests every few seconds under the keep-alive timeout
 * held a connection slot for good, answered 429 or not (found in review). For an `onSend` hook, on both ports.
 */
export const closeTheConnectionOfA429 = (reply: FastifyReply): void => {
  if (reply.statusCode === 429) reply.header('connection', 'close');
};
