import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

// Review 54, finding 5: `token list --limit 2` printed two rows of fourteen and nothing more, and had no --after, so
// an admin looking for a leaked token past the first page (default 100) never saw it.

const cli = async (argv: string[], env: Record<string, string> = {}) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env });
  return { code, out: c.out, err: c.err.join('\n') };
};

const MORE = /^more: credence token list --after (\d+) --limit 2 \(/m;

/** Every page of `token list --limit 2` on `where`, following the `more:` line: each page's ids, in order. */
const walkPages = async (where: string[], env: Record<string, string> = {}): Promise<string[][]> => {
  const pages: string[][] = [];
  let after: string[] = [];
  for (let guard = 0; guard < 50; guard++) {
    const r = await cli(['token', 'list', '--limit', '2', ...after, ...where], env);
    expect(r.code, r.err).toBe(0);
    pages.push(r.out.slice(1).map((row) => row.split(' ')[0]!));
    const more = MORE.exec(r.err);
    if (more === null) return pages;
    after = ['--after', more[1]!];
  }
  throw new Error('token list never reached its last page');
};

/** The same pages through --json: `next` until the last. */
const walkJson = async (where: string[], env: Record<string, string> = {}): Promise<{ ids: string[][]; nexts: (string | undefined)[] }> => {
  const ids: string[][] = [];
  const nexts: (string | undefined)[] = [];
  let after: string[] = [];
  for (let guard = 0; guard < 50; guard++) {
    const r = await cli(['token', 'list', '--limit', '2', '--json', ...after, ...where], env);
    expect(r.code, r.err).toBe(0);
    const page = JSON.parse(r.out.join('\n')) as { tokens: { tokenId: string }[]; next?: string };
    ids.push(page.tokens.map((t) => t.tokenId));
    nexts.push(page.next);
    if (page.next === undefined) return { ids, nexts };
    after = ['--after', page.next];
  }
  throw new Error('token list --json never reached its last page');
};

const everyId = async (where: string[], env: Record<string, string> = {}): Promise<string[]> =>
  JSON.parse((await cli(['token', 'list', '--limit', '1000', '--json', ...where], env)).out.join('\n')).tokens.map((t: { tokenId: string }) => t.tokenId);

describe('credence token list on the data folder pages like GET /v1/tokens', () => {
  let work: string;
  let data: string;
  const issued: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'credence-token-list-pages-'));
    data = join(work, 'data');
    for (let i = 0; i < 5; i++) {
      const r = await cli(['token', 'create', '--role', 'auditor', '--subject', `reader-${i}`, '--ttl', '1h', '--data', data, '--json']);
      expect(r.code, r.err).toBe(0);
      issued.push(JSON.parse(r.out.join('\n')).tokenId);
    }
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it('a list cut at --limit says so on stderr, and the page it names continues it without gaps or repeats to the end', async () => {
    const first = await cli(['token', 'list', '--limit', '2', '--data', data]);
    expect(first.out).toHaveLength(3);
    expect(first.err).toMatch(MORE);
    expect(first.out.join('\n')).not.toMatch(/more:/);

    const pages = await walkPages(['--data', data]);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual(issued);
  });

  it('--json carries next on every page but the last, and following it gives the whole list', async () => {
    const { ids, nexts } = await walkJson(['--data', data]);
    expect(nexts.map((n) => n !== undefined)).toEqual([true, true, false]);
    expect(ids.flat()).toEqual(issued);
  });

  it('a whole list says nothing more', async () => {
    const r = await cli(['token', 'list', '--data', data]);
    expect(r.out).toHaveLength(1 + issued.length);
    expect(r.err).not.toMatch(/more:/);
  });
});

describe('credence token list through a server pages too', () => {
  let svc: TestService;
  let admin: Record<string, string>;

  beforeAll(async () => {
    svc = await startTestService();
    admin = { CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.admin };
    for (let i = 0; i < 5; i++) {
      const r = await cli(['token', 'create', '--role', 'auditor', '--subject', `reader-${i}`, '--ttl', '1h'], admin);
      expect(r.code, r.err).toBe(0);
    }
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('a list cut at --limit says so, and the pages it names add up to the whole list, each token once', async () => {
    const all = await everyId([], admin);
    expect(all.length).toBeGreaterThan(4);
    const pages = await walkPages([], admin);
    expect(pages.length).toBe(Math.ceil(all.length / 2));
    expect(pages.flat()).toEqual(all);
  });

  it('--json carries next until the last page', async () => {
    const all = await everyId([], admin);
    const { ids, nexts } = await walkJson([], admin);
    expect(nexts.at(-1)).toBeUndefined();
    expect(nexts.slice(0, -1).every((n) => n !== undefined)).toBe(true);
    expect(ids.flat()).toEqual(all);
  });
});

describe('credence token list --after', () => {
  it('refuses a cursor that is not one as bad usage naming --after (exit 2), before opening or making anything', async () => {
    const work = mkdtempSync(join(tmpdir(), 'credence-token-list-after-'));
    try {
      const missing = join(work, 'data');
      for (const after of ['abc', '-1', '1.5', '1234567890123456', 'tok_AAAAAAAAAAAAAAAAAAAAAA']) {
        for (const where of [['--data', missing], ['--server', 'http://127.0.0.1:9', '--token', 't']]) {
          const r = await cli(['token', 'list', `--after=${after}`, ...where]);
          expect(r.code, `${after} ${where[0]}`).toBe(2);
          expect(r.err, `${after} ${where[0]}`).toMatch(/^error: --after: a cursor from a previous page/m);
          expect(r.out).toEqual([]);
        }
      }
      expect(existsSync(missing)).toBe(false);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
