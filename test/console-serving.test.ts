/**
 * Issue 14: how `credence serve` serves the web console: the built page at `/` and its assets under a strict CSP,
 * a clear 503 problem when the bundle was never built, and every other path answering as before.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../adapters/http/context.ts';
import { sendProblem } from '../adapters/http/problems.ts';
import { CONSOLE_CSP, consoleRoutesFrom } from '../adapters/http/routes/console.ts';

const serve = async (dist: string): Promise<App> => {
  const app = Fastify() as unknown as App;
  app.setErrorHandler((error, request, reply) => sendProblem(reply, request, error));
  await consoleRoutesFrom(dist)(app, undefined as never);
  await app.ready();
  return app;
};

describe('the console served by credence serve', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'credence-console-dist-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('answers a 503 problem naming the build command when the bundle is missing', async () => {
    const app = await serve(join(dir, 'never-built'));
    for (const url of ['/', '/assets/index.js']) {
      const response = await app.inject({ url });
      expect(response.statusCode).toBe(503);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json()).toMatchObject({ status: 503, detail: expect.stringContaining('npm run console:build') });
    }
    await app.close();
  });

  it('serves the page and its assets with the strict CSP, and refuses paths outside the bundle', async () => {
    const dist = join(dir, 'dist');
    mkdirSync(join(dist, 'assets'), { recursive: true });
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(dist, 'assets', 'index-abc.js'), 'export {};');
    writeFileSync(join(dir, 'secret.txt'), 'not served');
    const app = await serve(dist);

    const page = await app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).not.toContain('unsafe');
    expect(CONSOLE_CSP).toContain("require-trusted-types-for 'script'; trusted-types lit-html");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['cache-control']).toBe('no-cache');

    const asset = await app.inject({ url: '/assets/index-abc.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['content-type']).toContain('javascript');
    expect(asset.headers['cache-control']).toContain('immutable');

    for (const url of ['/assets/../../secret.txt', '/assets/%2e%2e%2f%2e%2e%2fsecret.txt', '/assets/..%2fsecret.txt', '/assets/missing.js']) {
      const refused = await app.inject({ url });
      expect(refused.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(refused.body, url).not.toContain('not served');
    }
    await app.close();
  });
});
