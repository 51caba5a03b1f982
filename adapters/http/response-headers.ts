/**
 * Response headers as the OpenAPI document declares them: a JSON Schema per header, its `description` becoming the
 * header's. A route puts them on a response object (`{ description, headers, content }`) or, for a response with no
 * body, in its zod schema's meta; Fastify only documents them (openapi-transform.ts), it never checks a header sent.
 */
export type ResponseHeaders = Readonly<Record<string, { readonly type: 'string' | 'integer' | 'boolean'; readonly description: string } & Record<string, unknown>>>;

export const RETRY_AFTER: ResponseHeaders = {
  'retry-after': {
    type: 'integer',
    minimum: 0,
    description: 'seconds to wait before sending the request again (absent when waiting will not help: a damaged database)',
  },
};

export const WWW_AUTHENTICATE: ResponseHeaders = {
  'www-authenticate': {
    type: 'string',
    description: 'RFC 6750 3: `Bearer realm="credence"`, with `error="invalid_token"` when a token was sent and refused',
  },
};
