import { config } from 'zod';

/**
 * Zod compiles object parsers with `new Function` unless told not to, after probing whether eval is allowed. The
 * console's CSP allows no eval (and Trusted Types make the probe itself a violation), so it parses without a JIT.
 * Imported first by main.ts, before any schema parses.
 */
config({ jitless: true });
