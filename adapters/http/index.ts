/** The driving HTTP adapter: `credence serve` (issue 12). */
export { startService, INFRASTRUCTURE_ACTOR } from './start.ts';
export type { RunningService, StartOptions } from './start.ts';
export { StoppedBeforeServing } from './stopped-before-serving.ts';
export { buildServer, DOCS_PREFIX } from './server.ts';
export type { BuildServerOptions } from './server.ts';
export { CONFIG_ENV, loadServiceConfig, serviceConfig, ServiceConfig, ServiceLimitsConfig, TokenConfig } from './config.ts';
export type { ConfigSources, ServiceConfigInput } from './config.ts';
export { openAccessControl, ACCESS_OWNER } from './auth/open-access-control.ts';
export type { LocalAccessControl } from './auth/open-access-control.ts';
export { ROLES, TokenId, TokenSubject } from './auth/access-control.ts';
export type { AccessControl, IssuedToken, Principal, Role, TokenSummary } from './auth/access-control.ts';
export { parseTtl } from './auth/ttl.ts';
export { createServiceMetrics } from './metrics.ts';
export type { ServiceMetrics } from './metrics.ts';
export { HttpProblem, PROBLEM_CONTENT_TYPE, ProblemSchema } from './problems.ts';
export type { App, RouteModule, ServiceContext, ServiceLimits } from './context.ts';
