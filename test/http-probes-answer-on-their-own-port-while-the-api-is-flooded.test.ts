import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { useTestService } from './support/service.ts';

/*
 * SER-001, left from the last review round: the probes shared the API's connection slots, so idle sockets that
 * filled `limits.maxConnections` failed /healthz too, and an orchestrator would restart a service only under attack.
 * With `probePort` the probes have a listener, and slots, of their own.
 */

const openSocket = (port: number): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
/** A GET over a fresh connection: the status and body, or `refused` when the server closed the connection instead. */
const get = (port: number, path: string): Promise<{ status: number; body: string } | 'refused'> =>
  new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', () => resolve('refused'));
    req.end();
  });

describe('the probe listener (probePort)', () => {
  const svc = useTestService({ config: { probePort: 0, limits: { maxConnections: 4, maxConnectionsPerAddress: 100 } } });

  it('answers /healthz, /readyz and /metrics while idle sockets hold every slot of the API port', async () => {
    const apiPort = Number(new URL(svc.url).port);
    const probePort = Number(new URL(svc.service.probeUrl!).port);
    expect(probePort).not.toBe(apiPort);
    const idle = await Promise.all(Array.from({ length: 4 }, () => openSocket(apiPort)));
    try {
      expect(await get(apiPort, '/healthz')).toBe('refused');
      expect(await get(probePort, '/healthz')).toEqual({ status: 200, body: '{"status":"ok"}' });
      const ready = await get(probePort, '/readyz');
      expect(ready !== 'refused' && ready.status).toBe(200);
      expect(ready !== 'refused' && JSON.parse(ready.body).status).toBe('ready');
      const metrics = await get(probePort, '/metrics');
      expect(metrics !== 'refused' && metrics.status).toBe(200);
      expect(metrics !== 'refused' && metrics.body).toMatch(/^credence_connections_refused_total\{reason="total",listener="api"\} [1-9]/m);
    } finally {
      for (const s of idle) s.destroy();
    }
    await expect.poll(() => get(apiPort, '/healthz').then((r) => (r === 'refused' ? r : r.status))).toBe(200);
  });

  it('serves nothing else: an API route there is a 404 problem, and its token is never read', async () => {
    const probePort = Number(new URL(svc.service.probeUrl!).port);
    const answer = await get(probePort, '/v1/entities/node/meter-1');
    expect(answer !== 'refused' && answer.status).toBe(404);
    expect(answer !== 'refused' && JSON.parse(answer.body)).toMatchObject({ type: expect.stringContaining('not_found'), status: 404 });
    const docs = await get(probePort, '/openapi.json');
    expect(docs !== 'refused' && docs.status).toBe(404);
  });
});

describe('probePort in the configuration', () => {
  it('is read from --probe-port and CREDENCE_PROBE_PORT, and must differ from the API port', () => {
    expect(loadServiceConfig({ flags: { probePort: '9090' } }).probePort).toBe(9090);
    expect(loadServiceConfig({ env: { CREDENCE_PROBE_PORT: '9091' } }).probePort).toBe(9091);
    expect(loadServiceConfig({}).probePort).toBeUndefined();
    expect(() => loadServiceConfig({ flags: { port: '9090', probePort: '9090' } })).toThrow(
      expect.objectContaining({ problem: expect.objectContaining({ issues: [expect.objectContaining({ path: 'flag --probe-port', rule: 'probe_port_apart', message: expect.stringContaining('(port from flag --port)') })] }) }),
    );
    expect(() => loadServiceConfig({ flags: { probePort: '0x10' } })).toThrow(
      expect.objectContaining({ problem: expect.objectContaining({ issues: [expect.objectContaining({ path: 'flag --probe-port' })] }) }),
    );
  });
});

describe('the probe listener under a low open-files limit', () => {
  it('takes its slots out of the limit, not out of the descriptors kept for the service (found in review)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'credence-probe-fds-'));
    try {
      const script = [
        "import { serviceConfig, startService } from './adapters/http/index.ts';",
        "import { Writable } from 'node:stream';",
        'const quiet = new Writable({ write: (_c, _e, done) => done() });',
        `for (const probePort of [undefined, 0]) {`,
        `  const s = await startService(serviceConfig({ host: '127.0.0.1', port: 0, data: ${JSON.stringify(dir)}, durability: 'normal', ...(probePort === undefined ? {} : { probePort }) }), { logStream: quiet });`,
        '  console.log(s.app.server.maxConnections);',
        '  await s.close();',
        '}',
      ].join('\n');
      const out = execFileSync('bash', ['-c', 'ulimit -n 700 && exec node --import tsx --input-type=module -e "$0"', script], { cwd: process.cwd(), encoding: 'utf8' });
      expect(out.trim().split('\n')).toEqual(['572', '508']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
