/**
 * The longest path parameter the router matches (decoded). Every identifier of the domain is at most 129 characters
 * (domain/ids.ts: a 128-character token, or `/` and one for a CSE-ID) and its schema refuses more than 256 with a
 * 400 naming the parameter; Fastify's default of 100 would make ids of 101 to 128 characters, which POST
 * /v1/commands accepts, unreadable. Longer is a 414 problem (`sendFrameworkProblem`).
 */
export const MAX_PATH_PARAM_CHARS = 300;
