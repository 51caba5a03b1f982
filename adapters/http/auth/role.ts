import { z } from 'zod';

/** The API's roles: the three actor roles of the engine, and an admin who manages access (issue 12). */
export const ROLES = ['admin', 'operator', 'auditor', 'integrator'] as const;
export type Role = (typeof ROLES)[number];
export const RoleSchema = z.enum(ROLES);
