import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { beginsLikeASecretToken } from './secret-token-prefixes.ts';

/**
 * The caller's X-Request-ID as the service takes it (server.ts, `genReqId`, which tests it against this pattern;
 * the OpenAPI test sends ids on either side of it): 1 to 64 of `A-Za-z0-9._:-`. Such an id is this request's, echoed in
 * the response header, on every log line and in every problem; any other value, or one that begins like a well-known
 * secret token (secret-token-prefixes.ts), is not refused but set aside for a new UUID, since a log line must not
 * carry whatever a caller put there.
 */
export const MAX_REQUEST_ID_CHARS = 64;
export const REQUEST_ID_PATTERN = `^[A-Za-z0-9._:-]{1,${MAX_REQUEST_ID_CHARS}}$`;

/** The OpenAPI component every operation refers to: the header is taken by every route, so documented once. */
export const REQUEST_ID_PARAMETER_NAME = 'RequestId';

export const REQUEST_ID_PARAMETER = {
  name: 'x-request-id',
  in: 'header',
  required: false,
  description:
    "an id of the caller's for this request, echoed in the x-request-id response header, on each of its log lines and in a " +
    "problem's `requestId`; a value of another shape, or one that begins like a well-known secret token (`ghp_`, `sk_live_`, …), " +
    'is not refused, the request gets a new UUID instead',
  schema: { type: 'string', minLength: 1, maxLength: MAX_REQUEST_ID_CHARS, pattern: REQUEST_ID_PATTERN },
} as const;

const REQUEST_ID = new RegExp(REQUEST_ID_PATTERN);

/**
 * A caller's request id when it is a short token, else a fresh one: it is echoed in a header, in a problem and on
 * every log line. Nor one that begins like a well-known secret token, as the path and user-agent are judged (review
 * 320: `ghp_…` sent there was logged, echoed and in the problem's `requestId`). The API's and the probe port's (server.ts, probe-server.ts).
 */
export const genReqId = (raw: IncomingMessage): string => {
  const given = raw.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) && !beginsLikeASecretToken(given) ? given : randomUUID();
};
