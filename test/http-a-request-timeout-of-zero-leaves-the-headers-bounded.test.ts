import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { nodeHttpOptions } from '../adapters/http/request-head.ts';

/*
 * Review 180: with requestTimeoutMs passed to Node at construction (review 175), 0 set headersTimeout to 0 as well,
 * so a head trickled a byte a minute held its connection for good, where before 0 left Node's 60 s headers bound.
 * 0 turns the bound of the whole request off, never the headers'.
 */
describe('a request timeout of 0', () => {
  it("keeps Node's 60 s bound on the headers, and Node takes the options", () => {
    const options = nodeHttpOptions({ requestTimeoutMs: 0 });
    expect(options.requestTimeout).toBe(0);
    expect(options.headersTimeout).toBe(60_000);
    const server = createServer(options);
    expect(server.headersTimeout).toBe(60_000);
    expect(server.requestTimeout).toBe(0);
  });

  it('bounds the headers by the request timeout otherwise', () => {
    expect(nodeHttpOptions({ requestTimeoutMs: 1_500 })).toMatchObject({ requestTimeout: 1_500, headersTimeout: 1_500 });
  });
});
