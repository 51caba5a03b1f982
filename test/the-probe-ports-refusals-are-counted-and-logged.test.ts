import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 276: the probe port (probePort) had no hooks feeding the metrics or the log, its comment saying "refusals and
 * failures are still logged" notwithstanding: with rateLimitPerAddress 5, three 429s and three 404s there left no log
 * line and nothing in credence_http_refused_total or credence_http_rate_limited_total. They are now counted as the API
 * port's are, with `listener="probes"`, and each is a log line; a probe answered 200 still writes none.
 */

/** A GET over a fresh connection, the path sent as written (a malformed one included). */
const get = (port: number, path: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });

interface LogLine {
  readonly msg?: string;
  readonly listener?: string;
  readonly res?: { readonly statusCode?: number };
  readonly req?: { readonly url?: string };
}

describe("the probe port's refusals", () => {
  const svc = useTestService({ config: { probePort: 0, limits: { rateLimitPerAddress: 5 } } });

  it('are counted under listener="probes" and logged, one line each, while a ready probe writes none', async () => {
    const probePort = Number(new URL(svc.service.probeUrl!).port);
    const readyz: number[] = [];
    for (let i = 0; i < 8; i++) readyz.push(await get(probePort, '/readyz'));
    expect(readyz).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    for (let i = 0; i < 3; i++) expect(await get(probePort, `/nothing-here-${i}`)).toBe(404);
    // Refused by the router before any route (frameworkErrors): counted once.
    expect(await get(probePort, '/%zz')).toBe(400);

    const metrics = await svc.service.context.metrics.render();
    expect(metrics).toMatch(/^credence_http_rate_limited_total\{route="\/readyz",listener="probes"\} 3$/m);
    expect(metrics).toMatch(/^credence_http_refused_total\{status="429",route="\/readyz",listener="probes"\} 3$/m);
    expect(metrics).toMatch(/^credence_http_refused_total\{status="404",route="unmatched",listener="probes"\} 3$/m);
    expect(metrics).toMatch(/^credence_http_refused_total\{status="400",route="unmatched",listener="probes"\} 1$/m);

    const lines = svc
      .logs()
      .map((l) => JSON.parse(l) as LogLine)
      .filter((l) => l.listener === 'probes');
    const byStatus = (status: number) => lines.filter((l) => l.res?.statusCode === status);
    expect(byStatus(429)).toHaveLength(3);
    expect(byStatus(404)).toHaveLength(3);
    expect(byStatus(400)).toHaveLength(1);
    expect(byStatus(429)[0]).toMatchObject({ req: { url: '/readyz' } });
    expect(byStatus(200)).toHaveLength(0);
  });
});
