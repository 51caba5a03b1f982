/**
 * Review 58: `/assets/..%2findex.html` and `/assets/%2e%2e%2findex.html` reach the asset route as `../index.html`
 * (the parameter is decoded), which send resolves inside the bundle: the page was served as an asset, cached
 * `public, max-age=31536000, immutable`, so a cache kept it for a year whatever the next build. Only a plain asset
 * name is looked up now; any other is the 404 problem a missing asset gets, with the console's headers.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../adapters/http/context.ts';
import { HttpProblem, sendProblem } from '../adapters/http/problems.ts';
import { CONSOLE_CSP, consoleRoutesFrom } from '../adapters/http/routes/console.ts';

describe('the console serves under /assets/ only plain asset names', () => {
  let dir: string;
  let app: App;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'credence-console-assets-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(dir, 'assets', 'index-B4EWAI68.js'), 'export {};');
    writeFileSync(join(dir, 'assets', 'index-eRFDvcJQ.css'), 'body {}');
    app = Fastify() as unknown as App;
    app.setErrorHandler((error, request, reply) => sendProblem(reply, request, error));
    // As the service's own (server.ts): a path nothing serves is a 404 problem.
    app.setNotFoundHandler((request, reply) => sendProblem(reply, request, new HttpProblem(404, 'not_found', `no route ${request.method} ${request.url}`)));
    await consoleRoutesFrom(dir)(app, undefined as never);
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['/assets/..%2findex.html', '/assets/%2e%2e%2findex.html', '/assets/..%5cindex.html', '/assets/.%2e%2findex.html', '/assets/.hidden'])(
    '%s is the 404 problem with the console headers, never the page cached for a year',
    async (url) => {
      const response = await app.inject({ url });
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.headers['content-security-policy']).toBe(CONSOLE_CSP);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['cache-control'] ?? '').not.toContain('immutable');
      expect(response.body).not.toContain('<title>console</title>');
    },
  );

  it('still serves a real asset, immutable for a year, and a missing one is the same 404', async () => {
    for (const [file, type] of [['index-B4EWAI68.js', 'javascript'], ['index-eRFDvcJQ.css', 'text/css']] as const) {
      const asset = await app.inject({ url: `/assets/${file}` });
      expect(asset.statusCode, file).toBe(200);
      expect(asset.headers['content-type'], file).toContain(type);
      expect(asset.headers['cache-control'], file).toBe('public, max-age=31536000, immutable');
      expect(asset.headers['content-security-policy'], file).toBe(CONSOLE_CSP);
    }
    const missing = await app.inject({ url: '/assets/index-missing.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toContain('application/problem+json');
    expect(missing.headers['content-security-policy']).toBe(CONSOLE_CSP);
  });
});
