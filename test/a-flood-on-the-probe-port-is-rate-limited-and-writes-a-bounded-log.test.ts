import { Agent, request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { REFUSALS_LOGGED_PER_ADDRESS } from '../adapters/http/refusal-sampling.ts';
import { rawHttpSocket, until } from './support/raw-http-socket.ts';
import { startTestService } from './support/service.ts';

/*
 * Review 429: the probe port (probePort) logged every refusal whole, its unknown paths took no rate-limit budget and a
 * 429 kept its keep-alive connection. 1,000 requests over 8 kept-alive sockets, alternating /readyz and a 600-character
 * unknown path, were 500 404s and 995 log lines (577 KB), where the API port wrote 20: anyone reaching the probe port
 * could fill stdout past log-destination's 8 MiB and have genuine lines dropped (review 381's "blind the log"). Now an
 * unknown path takes the rate-limit budget before it is refused, a 429 closes its connection, and the refusals are
 * logged through the API port's sampler: the first few of an address in a window, then one line saying how many were not.
 */

interface Answer {
  readonly status: number;
  readonly connection: string | undefined;
}

const get = (port: number, path: string, address: string, agent: Agent | false): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent, headers: { 'x-forwarded-for': address } }, (res) => {
      res.resume().on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end();
  });

interface LogLine {
  readonly msg?: string;
  readonly listener?: string;
  readonly req?: unknown;
  readonly remoteAddress?: string;
  readonly suppressed?: number;
}

describe('a flood of refusals on the probe port', () => {
  it('is rate limited on unknown paths, closes the connection of a 429, and writes a bounded log', async () => {
    const svc = await startTestService({
      config: { probePort: 0, trustProxy: ['127.0.0.1'], limits: { rateLimitPerAddress: 5, rateLimitWindowMs: 60_000 } },
    });
    const flooder = '198.51.100.7';
    const unknown = `/${'x'.repeat(599)}`;
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    let before = 0;
    let refusals = 0;
    try {
      const probePort = Number(new URL(svc.service.probeUrl!).port);
      before = svc.logs().length;
      const readyz: Answer[] = [];
      const unmatched: Answer[] = [];
      // 8 at a time over 8 kept-alive sockets, in order: /readyz, the unknown path, /readyz, …
      for (let i = 0; i < 1_000; i += 8) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(8, 1_000 - i) }, (_, j) => get(probePort, (i + j) % 2 === 0 ? '/readyz' : unknown, flooder, agent)),
        );
        batch.forEach((answer, j) => ((i + j) % 2 === 0 ? readyz : unmatched).push(answer));
      }
      expect(readyz.filter((a) => a.status === 200)).toHaveLength(5);
      expect(readyz.filter((a) => a.status === 429)).toHaveLength(495);
      // The unknown path takes the address's budget: 5 404s, then 429s.
      expect(unmatched.filter((a) => a.status === 404)).toHaveLength(5);
      expect(unmatched.filter((a) => a.status === 429)).toHaveLength(495);
      const all = [...readyz, ...unmatched];
      expect(all.filter((a) => a.status === 429).every((a) => a.connection === 'close')).toBe(true);
      refusals = all.filter((a) => a.status >= 400).length;

      // Counted every time, logged or not.
      const metrics = await svc.service.context.metrics.render();
      expect(metrics).toMatch(/^credence_http_refused_total\{status="404",route="unmatched",listener="probes"\} 5$/m);
      expect(metrics).toMatch(/^credence_http_refused_total\{status="429",route="unmatched",listener="probes"\} 495$/m);
      expect(metrics).toMatch(/^credence_http_refused_total\{status="429",route="\/readyz",listener="probes"\} 495$/m);

      // Another address is still answered.
      expect((await get(probePort, '/readyz', '198.51.100.8', false)).status).toBe(200);
    } finally {
      agent.destroy();
      await svc.close();
    }
    const written = svc.logs().slice(before);
    const lines = written.map((l) => JSON.parse(l) as LogLine);
    const requestLines = lines.filter((l) => l.listener === 'probes' && l.req !== undefined);
    expect(requestLines).toHaveLength(REFUSALS_LOGGED_PER_ADDRESS);
    expect(lines.filter((l) => l.listener === 'probes')).toHaveLength(REFUSALS_LOGGED_PER_ADDRESS + 1);
    expect(written.join('\n').length).toBeLessThan(REFUSALS_LOGGED_PER_ADDRESS * 2_500 + 5_000);
    // The window's count, said at the latest as the service closes.
    const notLogged = lines.filter((l) => l.msg === 'refusals not logged');
    expect(notLogged).toEqual([expect.objectContaining({ listener: 'probes', remoteAddress: flooder, suppressed: refusals - REFUSALS_LOGGED_PER_ADDRESS })]);
  }, 120_000);

  it("logs a probe route's own refusal however many unknown paths the address was refused (a 417 after 25 404s)", async () => {
    // Review 433: every refusal went through the sampler, so a flood of unknown paths from a kubelet's address left its
    // genuine /readyz refusals unsaid for the window. As on the API port, only 429s and unmatched paths are sampled.
    const svc = await startTestService({ config: { probePort: 0, limits: { rateLimitPerAddress: 100, rateLimitWindowMs: 60_000 } } });
    const unmatched: number[] = [];
    let before = 0;
    try {
      const probeUrl = svc.service.probeUrl!;
      const probePort = Number(new URL(probeUrl).port);
      before = svc.logs().length;
      for (let i = 0; i < REFUSALS_LOGGED_PER_ADDRESS + 5; i++) unmatched.push((await get(probePort, `/unknown-${i}`, '127.0.0.1', false)).status);
      const raw = await rawHttpSocket(probeUrl);
      try {
        raw.socket.write('GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: bogus\r\n\r\n');
        expect(await until(() => /HTTP\/1\.1 417 [\s\S]*\r\n\r\n[\s\S]*}$/.test(raw.received()), 5_000)).toBe(true);
      } finally {
        raw.socket.destroy();
      }
      expect(await until(() => svc.logs().slice(before).some((l) => /"statusCode":417/.test(l)), 2_000)).toBe(true);
    } finally {
      await svc.close();
    }
    expect(unmatched.every((status) => status === 404)).toBe(true);
    const lines = svc.logs().slice(before).map((l) => JSON.parse(l) as LogLine & { res?: { statusCode?: number } });
    const refused = lines.filter((l) => l.listener === 'probes' && l.req !== undefined);
    expect(refused.filter((l) => l.res?.statusCode === 404)).toHaveLength(REFUSALS_LOGGED_PER_ADDRESS);
    expect(refused.filter((l) => l.res?.statusCode === 417)).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'refusals not logged')).toEqual([expect.objectContaining({ listener: 'probes', suppressed: 5 })]);
  }, 60_000);
});
