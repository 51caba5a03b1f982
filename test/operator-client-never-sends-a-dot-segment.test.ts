/**
 * Review 218 item 4, defence in depth: the client put an id in the path with encodeURIComponent, which leaves `.` as
 * it is, and a URL resolves a `.` or `..` segment (and `%2E%2E` too, WHATWG URL section 4.4): `entity('node', '..')`
 * asked another route. Such a segment, or an empty one, is refused before anything is sent.
 */
import { describe, expect, it } from 'vitest';
import { operatorClient } from '../adapters/client/operator.ts';

const client = operatorClient('http://127.0.0.1:9', 'not-sent', { timeoutMs: 1000 });
/** The call's outcome as a promise, whether it throws at once or rejects. */
const attempt = (call: () => Promise<unknown>): Promise<unknown> => (async () => call())();

describe('the operator client path segments', () => {
  it.each(['.', '..', ''])('refuses the id %j before sending', async (id) => {
    await expect(attempt(() => client.entity('node', id))).rejects.toThrow(/id.*segment/);
    await expect(attempt(() => client.replayEntity('node', id))).rejects.toThrow(/id.*segment/);
    await expect(attempt(() => client.evidence('node', id))).rejects.toThrow(/id.*segment/);
    await expect(attempt(() => client.stateAt('node', id, '2026-01-01T00:00:00Z'))).rejects.toThrow(/id.*segment/);
  });

  it('sends an id with a dot inside it', async () => {
    await expect(attempt(() => client.entity('node', 'a..b'))).rejects.not.toThrow(/segment/);
  });
});
