import { z } from 'zod';

/**
 * `schema` compiled ahead of time by zod (`z.compile`: a generated fast path over the same rules, falling back to
 * the runtime parser for anything it does not accept), or `schema` itself where zod is configured not to generate
 * code (`jitless`: the web console, whose CSP forbids `new Function`; a compile attempted there would fall back, but
 * only after the browser reported a Trusted Types violation).
 */
export const compiledSchema = <T extends z.ZodType>(schema: T): T => (z.config().jitless === true ? schema : z.compile(schema));
