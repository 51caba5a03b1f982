import type { RouteAccess } from '../context.ts';

/** Who may call what (issue 12): route modules use these lists, so the role-by-route matrix lives in one place. */
export const ACCESS = {
  /** Lifecycle commands. */
  commands: ['operator'],
  /** Entities, compliance, replay, projections, transparency: the read side with canonical identifiers. */
  read: ['operator', 'auditor', 'admin'],
  /** The integrator streams (integrators get the pseudonymised stream only). */
  events: ['operator', 'auditor', 'integrator'],
  /** Resolving a pseudonym to its node: an auditor's recorded command (SER-025). */
  resolve: ['auditor'],
  /** Issuing and revoking API tokens. */
  tokens: ['admin'],
  /** Signing out: ending the token the request carries, whoever holds one. */
  session: ['admin', 'operator', 'auditor', 'integrator'],
} as const satisfies Record<string, RouteAccess>;
