/**
 * Review 246: the CLI said "was not sent … sending it again is safe" for EHOSTUNREACH and ENETUNREACH, which Linux
 * also gives an established connection whose route dies after the request was written: a re-run without
 * --command-id could record the command twice. Only a connection that never opened says nothing was sent.
 */
import { describe, expect, it } from 'vitest';
import { ServerUnreachable } from '../adapters/client/http.ts';

const failedFetch = (code: string) => new TypeError('fetch failed', { cause: Object.assign(new Error(`connect ${code}`), { code }) });

describe('what a failed connection says of the request', () => {
  it.each(['EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'UND_ERR_SOCKET'])('%s: nothing said sent or unsent (the outcome is not known)', (code) => {
    expect(new ServerUnreachable('http://127.0.0.1:1/v1/commands', failedFetch(code)).unsent).toBeUndefined();
  });

  it.each(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'])('%s: nothing was sent', (code) => {
    expect(new ServerUnreachable('http://127.0.0.1:1/v1/commands', failedFetch(code)).unsent).toEqual(expect.any(String));
  });
});
