import { describe, expect, it } from 'vitest';
import { expectUnmetExpectRefused, rawHttpSocket, until } from './support/raw-http-socket.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 202 (3rd finding): the API port answered an `Expect` other than `100-continue` with a 417 problem (review 199),
 * the probe port still with Node's bare 417: no problem+json, no baseline headers, the connection kept alive.
 */
const svc = useTestService({ config: { probePort: 0 } });

describe('a request with an Expect the probe port cannot meet', () => {
  it('is answered 417 problem+json with the baseline headers, and its connection closed', async () => {
    await expectUnmetExpectRefused(svc.service.probeUrl!, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: something-else\r\n\r\n');
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
