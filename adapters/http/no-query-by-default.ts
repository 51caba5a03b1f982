import { z } from 'zod';
import type { App } from './context.ts';

/** The query of a route that declares none: no parameter at all, each one sent refused by name. */
export const NO_QUERY = z.strictObject({});

/** The routes a monitor calls, which read no query and keep ignoring one (below). */
const PROBES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * A route of the API that declares no `querystring` takes none: it is given NO_QUERY as it is registered, so a
 * parameter sent to it is refused as on the routes that declare theirs (400 `validation`, `query.<name>`, rule
 * `unrecognized_key`, by the same schema check), and the malformed-escape and `repeated` checks of query-string.ts,
 * which run on routes with a query schema, run on it too. Before, such a route read past what it did not take:
 * `GET /v1/entities/subscription/s-a?at=…` answered the current state as if it were the state at `at`, the evidence
 * bundle `?treeSize=1` the latest (review 219). A default here, not a schema in each route, so that a route added
 * later cannot forget it. A GET's HEAD twin is registered from the route's own options and passes here too.
 *
 * Routes hidden from the OpenAPI document (the console's page and assets, the docs page, /openapi.json) are left as
 * they are: pages and files for a browser, which a link may carry a query to, and whose answer reads none. So are the
 * probes and the metrics (PROBES): monitors add parameters of their own (a cache-buster on a liveness probe, a
 * Prometheus job's `params`), the answer reads no input, and refusing them turned a working probe into a restart loop
 * (review 222). So are the
 * routes registered once the returned function is called: the route modules a caller adds to the service's
 * (BuildServerOptions.routes, tests' own), which keep what they declare.
 */
export const takeNoQueryByDefault = (app: App): (() => void) => {
  let applies = true;
  app.addHook('onRoute', (route) => {
    const schema = route.schema as (Record<string, unknown> & { hide?: boolean }) | undefined;
    if (!applies || schema === undefined || schema.hide === true || schema['querystring'] !== undefined || PROBES.has(route.url)) return;
    route.schema = { ...schema, querystring: NO_QUERY };
  });
  return () => {
    applies = false;
  };
};
