import type { RouteModule } from '../context.ts';
import { commandRoutes } from './commands.ts';
import { complianceRoutes } from './compliance.ts';
import { enrolmentRoutes } from './enrolment.ts';
import { entityRoutes } from './entities.ts';
import { entityGraphRoutes } from './entity-graph.ts';
import { eventRoutes } from './events.ts';
import { healthRoutes } from './health.ts';
import { pkiRoutes } from './pki.ts';
import { projectionRoutes } from './projections.ts';
import { pseudonymRoutes } from './pseudonyms.ts';
import { registrarRoutes } from './registrar.ts';
import { tokenRoutes } from './tokens.ts';
import { transparencyRoutes } from './transparency.ts';

/** Every route module of API v1, registered in this order (then the console's, server.ts). */
export const ROUTE_MODULES: readonly RouteModule[] = [
  healthRoutes,
  tokenRoutes,
  commandRoutes,
  pseudonymRoutes,
  entityRoutes,
  entityGraphRoutes,
  complianceRoutes,
  projectionRoutes,
  transparencyRoutes,
  eventRoutes,
  enrolmentRoutes,
  registrarRoutes,
  pkiRoutes,
];
