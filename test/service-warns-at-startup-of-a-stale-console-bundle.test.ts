/**
 * An operator who updates the sources (`git pull`) and starts the service without `npm install` gets the console
 * built from the old ones: the service says so, once, at warn, naming `npm run console:build`, and serves it all the
 * same; a fresh bundle is served without a word, a missing one is the 503 `console_not_built`, said at startup too. One whose
 * freshness cannot be told (review 48's `unknown`: a source tree past 5,000 entries, a source dated in the future by
 * both its times) is said once too, with the reason: it was served without a word.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ConsoleBundleFreshness } from '../adapters/http/console-bundle-freshness.ts';
import { startTestService } from './support/service.ts';

/*
 * `unknown` needs this repository's sources past 5,000 entries or dated in the future by both their times (a clock set
 * back), neither of which a test may make: the judgement is replaced for that case only, the others use the real one.
 */
const forced = vi.hoisted(() => ({ freshness: undefined as ConsoleBundleFreshness | undefined }));
vi.mock('../adapters/http/console-bundle-freshness.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../adapters/http/console-bundle-freshness.ts')>();
  return { ...actual, consoleBundleFreshness: (layout?: Parameters<typeof actual.consoleBundleFreshness>[0]) => forced.freshness ?? actual.consoleBundleFreshness(layout) };
});

interface LogLine {
  readonly level: number;
  readonly msg: string;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'credence-console-dist-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A built console in a folder of its own, its index.html written at `builtAt`. */
const bundle = (name: string, builtAt: Date): string => {
  const dist = join(dir, name);
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>console</title>');
  utimesSync(join(dist, 'index.html'), builtAt, builtAt);
  return dist;
};

/** The service's startup over `consoleDist`: its console warnings and its answer at `/`. */
const startOver = async (consoleDist: string) => {
  const svc = await startTestService({ consoleDist });
  try {
    const page = await fetch(`${svc.url}/`);
    const lines = svc.logs().map((l) => JSON.parse(l) as LogLine);
    const warnings = lines.filter((l) => l.msg.startsWith("the web console's bundle"));
    const unbuilt = lines.filter((l) => l.msg.startsWith('the web console has not been built'));
    return { status: page.status, body: await page.text(), warnings, unbuilt, logged: lines.map((l) => l.msg) };
  } finally {
    await svc.close();
  }
};

describe('the service started over a console bundle', () => {
  it('warns once when the bundle is older than its sources, and still serves it', async () => {
    const { status, body, warnings } = await startOver(bundle('stale', new Date('2000-01-01T00:00:00Z')));
    expect(warnings).toEqual([expect.objectContaining({ level: 40 })]);
    expect(warnings[0]!.msg).toMatch(/^the web console's bundle is older than its sources \(.+ changed at .+, after the build of 2000-01-01T00:00:00\.000Z\)/);
    expect(warnings[0]!.msg).toContain('npm run console:build');
    expect(status).toBe(200);
    expect(body).toContain('<title>console</title>');
  }, 30_000);

  it('says nothing of a bundle built after its sources', async () => {
    const { status, warnings } = await startOver(bundle('fresh', new Date(Date.now() + 86_400_000)));
    expect(warnings).toEqual([]);
    expect(status).toBe(200);
  }, 30_000);

  it("says at startup, in the 503's words, that a missing bundle is not built, and nothing of @fastify/static's (review 256)", async () => {
    const { status, body, warnings, unbuilt, logged } = await startOver(join(dir, 'never-built'));
    expect(warnings).toEqual([]);
    expect(unbuilt).toEqual([expect.objectContaining({ level: 40, msg: expect.stringContaining('npm run console:build') })]);
    expect(logged.filter((msg) => msg.includes('must exist'))).toEqual([]);
    expect(status).toBe(503);
    expect(JSON.parse(body)).toMatchObject({ detail: expect.stringContaining('npm run console:build') });
  }, 30_000);

  it('warns once, with the reason, when whether the bundle matches its sources cannot be told, and still serves it', async () => {
    const dist = bundle('unknown', new Date('2020-01-01T00:00:00Z'));
    forced.freshness = { state: 'unknown', builtAt: new Date('2020-01-01T00:00:00Z'), why: 'its sources hold more than 5000 files and folders, too many to compare with the build' };
    try {
      const { status, warnings } = await startOver(dist);
      expect(warnings).toEqual([expect.objectContaining({ level: 40 })]);
      expect(warnings[0]!.msg).toMatch(/^the web console's bundle cannot be compared with its sources \(its sources hold more than 5000 files and folders, too many to compare with the build\)/);
      expect(warnings[0]!.msg).toContain('npm run console:build');
      expect(status).toBe(200);
    } finally {
      forced.freshness = undefined;
    }
  }, 30_000);
});
