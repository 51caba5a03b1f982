import type { RouteModule } from '../context.ts';
import { commandRoutes } from './commands.ts';
import { complianceRoutes } from './compliance.ts';
import { enrolmentRoutes } from './enrolment.ts';
import { entityRoutes } from './entities.ts';
import { entityGraphRoutes } from './entity-graph.ts';
import { eventRoutes } from './events.ts';
import { healthRoutesWith, type StartPhase } from './health.ts';
import { pkiRoutes } from './pki.ts';
import { projectionRoutes } from './projections.ts';
import { pseudonymRoutes } from './pseudonyms.ts';
import { registrarRoutes } from './registrar.ts';
import { replayRoutes } from './replay.ts';
import { tokenRoutes } from './tokens.ts';
import { transparencyRoutes } from './transparency.ts';

/**
 * Every route module of API v1, registered in this order (then the console's, server.ts). With a probe port, /metrics
 * is served there only (probe-server.ts), behind the firewall that port is for; /healthz and /readyz stay here too,
 * for load balancers that probe the API's port (review 90).
 */
export const routeModulesOf = (
  config: { readonly probePort?: number | undefined },
  startPhase?: () => StartPhase | undefined,
): readonly RouteModule[] => [
  // Its /readyz is 503 `starting` until the start has finished (review 422), as the probe port's is.
  healthRoutesWith({ metrics: config.probePort === undefined, ...(startPhase !== undefined ? { startPhase } : {}) }),
  tokenRoutes,
  commandRoutes,
  pseudonymRoutes,
  entityRoutes,
  entityGraphRoutes,
  complianceRoutes,
  replayRoutes,
  projectionRoutes,
  transparencyRoutes,
  eventRoutes,
  enrolmentRoutes,
  registrarRoutes,
  pkiRoutes,
];
