/**
 * The web audit console (issue 14): the static files Vite built from adapters/console/ (`npm run console:build`, run by
 * npm's `prepare` on install), served at `/` by @fastify/static. The console holds no data of its own: the browser
 * calls API v1 with the token the user signs in with, so every route here is public and every datum behind the
 * token. The pages are hash-routed (`/#/entity/...`), so only `/` and the hashed assets under `/assets/` exist;
 * every other path keeps its own answer (API v1, /docs, /openapi.json, probes, a 404 problem).
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import { consoleBundleFreshness } from '../console-bundle-freshness.ts';
import type { App, RouteModule } from '../context.ts';
import { HttpProblem } from '../problems.ts';

/**
 * Only this server's own files run, styles and data come from it, and nothing frames the console: no inline script
 * or style, no eval, no remote origin (the bundle fetches nothing from outside). `connect-src 'self'` is the API.
 * Trusted Types close the DOM sinks (innerHTML and kin) to everything but Lit's own template policy `lit-html`,
 * which only ever parses the console's static template strings: data reaches the page as text or attribute values.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  'trusted-types lit-html',
].join('; ');

const secureHeaders = (reply: FastifyReply): FastifyReply =>
  reply.headers({
    'content-security-policy': CONSOLE_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'x-frame-options': 'DENY',
  });

const notBuilt = (): HttpProblem =>
  new HttpProblem(
    503,
    'console_not_built',
    'the web console has not been built: run `npm run console:build` (npm install runs it), then reload',
  );

/**
 * Said once at startup: a bundle older than its sources (the sources updated, `npm install` not run since) is served
 * all the same, but may call routes or verify bundles with yesterday's code; so is one whose freshness cannot be told
 * (a source tree too large to walk, a source dated in the future by both its times), with the reason, since it may be
 * as old. A missing one says so itself (the 503).
 */
const warnOfAStaleBundle = (app: App, dist: string): void => {
  const freshness = consoleBundleFreshness({ dist });
  if (freshness.state === 'missing') {
    // Said in the 503's words at startup too (review 256: a fresh clone's log said only @fastify/static's "root path
    // must exist", and its banner nothing of the console).
    app.log.warn({ consoleDist: dist }, notBuilt().message);
  } else if (freshness.state === 'stale') {
    app.log.warn(
      { consoleBuiltAt: freshness.builtAt.toISOString() },
      `the web console's bundle is older than its sources (${freshness.why}): it is served as built, and may not match this service; run npm run console:build (npm start rebuilds it)`,
    );
  } else if (freshness.state === 'unknown') {
    app.log.warn(
      { consoleBuiltAt: freshness.builtAt.toISOString() },
      `the web console's bundle cannot be compared with its sources (${freshness.why}): it is served as built, and may not match this service; run npm run console:build if it does not`,
    );
  }
};

/** A file name Vite gives an asset (`index-B4EWAI68.js`): no separator, no encoding left, not a dotfile. */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** The console's routes over the bundle in `dist`: CONSOLE_DIST (console-bundle-freshness.ts), or a test's folder. */
export const consoleRoutesFrom =
  (dist: string): RouteModule =>
  async (app: App) => {
    warnOfAStaleBundle(app, dist);
    // Every file is sent with `dist` as its root (sendFile's second argument); the plugin's own root is the folder
    // that holds `dist`, which exists before any build, so a service started unbuilt logs no error of the plugin's.
    await app.register(fastifyStatic, { root: dirname(dist), serve: false, index: false });
    const index = (): boolean => existsSync(`${dist}/index.html`);

    app.get('/', { schema: { hide: true }, config: { access: 'public' } }, async (_request, reply) => {
      if (!index()) throw notBuilt();
      // The page names the hashed assets of one build: revalidated on each load, so a rebuild shows at once.
      return secureHeaders(reply).sendFile('index.html', dist, { cacheControl: false }).header('cache-control', 'no-cache');
    });

    // Vite writes the assets flat into assets/ (content-hashed names): one path segment each.
    app.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true }, config: { access: 'public' } }, async (request, reply) => {
      if (!index()) throw notBuilt();
      // The parameter arrives decoded, so `..%2findex.html` is `../index.html`: send only keeps a path inside `dist`,
      // and served the page as an immutable asset for a year (review 58). Any name but a plain one is the 404 problem
      // a missing file gets.
      if (!ASSET_NAME.test(request.params.file)) return secureHeaders(reply).callNotFound();
      return secureHeaders(reply).sendFile(`assets/${request.params.file}`, dist, { immutable: true, maxAge: '365d', dotfiles: 'deny' });
    });
  };

