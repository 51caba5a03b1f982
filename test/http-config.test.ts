import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadServiceConfig, serviceConfig } from '../adapters/http/config.ts';
import { isCredenceError } from '../domain/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'credence-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, value: unknown): string => {
  const path = join(dir, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
};

/** The issue paths of the refusal `load` throws. */
const refusal = (load: () => unknown): string[] => {
  try {
    load();
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return error.problem.issues.map((i) => i.path);
    throw error;
  }
  throw new Error('expected a refusal');
};

describe('service configuration: defaults, file, environment, flags', () => {
  it('defaults to 127.0.0.1:8080 on ./data with the embedded store', () => {
    const config = loadServiceConfig();
    expect(config).toMatchObject({ host: '127.0.0.1', port: 8080, data: './data', logLevel: 'info' });
    expect(config.store).toBeUndefined();
    expect(config.limits.bodyLimitBytes).toBeGreaterThan(0);
  });

  it('takes the file, then the environment, then flags, later winning', () => {
    const path = file('layered.json', { port: 7000, host: '0.0.0.0', limits: { rateLimitPerAddress: 5 } });
    const config = loadServiceConfig({ file: path, env: { PORT: '7100', CREDENCE_DATA: '/srv/credence' }, flags: { port: '7200', logLevel: 'debug', json: true } });
    expect(config).toMatchObject({ port: 7200, host: '0.0.0.0', data: '/srv/credence', logLevel: 'debug' });
    expect(config.limits.rateLimitPerAddress).toBe(5);
    expect(config.limits.rateLimitPerPrincipal).toBe(6000);
  });

  it('names the source and the field of every bad value', () => {
    expect(refusal(() => loadServiceConfig({ env: { PORT: 'eighty' } }))).toEqual(['env PORT']);
    // Found in review: read as 8080, 1000 and 9000 by a coercion, none of them what was written.
    for (const port of ['0x1f90', '1e3', ' 9000', '80.0']) expect(refusal(() => loadServiceConfig({ flags: { port } })), port).toEqual(['flag --port']);
    // The refusal says what is wanted (found in review: a bare "Invalid input").
    try {
      loadServiceConfig({ env: { PORT: '0x10' } });
      throw new Error('expected a refusal');
    } catch (error) {
      expect(isCredenceError(error, 'validation') && error.problem.code === 'validation' ? error.problem.issues[0]!.message : error).toMatch(/a whole number in decimal digits, 0 to 65535/);
    }
    expect(refusal(() => loadServiceConfig({ flags: { port: 70000, logLevel: 'loud' } })).sort()).toEqual(['flag --log-level', 'flag --port']);
    const path = file('bad.json', { limits: { bodyLimitBytes: -1, nope: 1 } });
    expect(refusal(() => loadServiceConfig({ file: path })).sort()).toEqual([`file ${path}: limits.bodyLimitBytes`, `file ${path}: limits.nope`]);
    expect(refusal(() => loadServiceConfig({ file: file('broken.json', '{') }))).toEqual([`file ${join(dir, 'broken.json')}`]);
  });

  // An SSE stream with no events sends only its heartbeat: a connection timeout at or below it cuts every quiet stream.
  it('refuses an SSE heartbeat at or past the connection timeout, naming both fields, whichever sources set them', () => {
    const path = file('heartbeat.json', { limits: { sseHeartbeatMs: 60_000 } });
    try {
      loadServiceConfig({ file: path });
      throw new Error('expected a refusal');
    } catch (error) {
      if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') throw error;
      expect(error.problem.issues).toEqual([
        // Each source named (review 298 item 3): the file's heartbeat, the default timeout.
        { path: `file ${path}: limits.sseHeartbeatMs`, rule: 'heartbeat_within_connection_timeout', message: expect.stringContaining('limits.connectionTimeoutMs (60000)') },
      ]);
      expect(error.message).toMatch(/limits\.sseHeartbeatMs \(60000\) must be shorter than limits\.connectionTimeoutMs/);
    }
    expect(refusal(() => serviceConfig({ limits: { sseHeartbeatMs: 5_000, connectionTimeoutMs: 4_000 } }))).toEqual(['limits.sseHeartbeatMs']);
    expect(serviceConfig({ limits: { sseHeartbeatMs: 60_000, connectionTimeoutMs: 120_000 } }).limits.sseHeartbeatMs).toBe(60_000);
    // 0 turns the connection timeout off: any heartbeat is fine.
    expect(serviceConfig({ limits: { sseHeartbeatMs: 600_000, connectionTimeoutMs: 0 } }).limits.connectionTimeoutMs).toBe(0);
  });

  it('refuses a bad store connection string without repeating it', () => {
    try {
      loadServiceConfig({ env: { CREDENCE_STORE: 'mysql://admin:hunter2@db' } });
      throw new Error('expected a refusal');
    } catch (error) {
      expect(isCredenceError(error, 'validation')).toBe(true);
      expect(JSON.stringify((error as { problem: unknown }).problem)).not.toContain('hunter2');
      expect((error as Error).message).toContain('env CREDENCE_STORE');
    }
    expect(loadServiceConfig({ flags: { store: 'esdb://localhost:2113?tls=false' } }).store).toBe('esdb://localhost:2113?tls=false');
  });
});
