import { describe, expect, it } from 'vitest';
import { rawHttpSocket, until } from './support/raw-http-socket.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 202 (3rd finding): the API port answered an `Expect` other than `100-continue` with a 417 problem (review 199),
 * the probe port still with Node's bare 417: no problem+json, no baseline headers, the connection kept alive.
 */
const svc = useTestService({ config: { probePort: 0 } });

describe('a request with an Expect the probe port cannot meet', () => {
  it('is answered 417 problem+json with the baseline headers, and its connection closed', async () => {
    const raw = await rawHttpSocket(svc.service.probeUrl!);
    try {
      raw.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: something-else\r\n\r\n');
      expect(await until(() => raw.received().endsWith('}'), 5_000)).toBe(true);
      const answer = raw.received();
      const head = answer.split('\r\n\r\n')[0]!.toLowerCase();
      expect(answer).toMatch(/^HTTP\/1\.1 417 /);
      expect(head).toContain('content-type: application/problem+json');
      expect(head).toContain('x-content-type-options: nosniff');
      expect(head).toContain('x-ratelimit-remaining:');
      expect(head).toContain('connection: close');
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 417, type: 'https://credence.dev/problems/expectation_failed' });
      expect(await raw.closedWithin(5_000)).toBe(true);
    } finally {
      raw.socket.destroy();
    }
  });

  it('leaves 100-continue as it was', async () => {
    const raw = await rawHttpSocket(svc.service.probeUrl!);
    try {
      raw.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n\r\n');
      expect(await until(() => /\r\n\r\n[\s\S]*}$/.test(raw.received()), 5_000)).toBe(true);
      expect(raw.received()).toMatch(/HTTP\/1\.1 200 /);
    } finally {
      raw.socket.destroy();
    }
  });
});
