import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { tempDirs } from './support/temp-dirs.ts';

/*
 * Review 465. 1: `token create … > /dev/null` (or `>&-`, which Node reopens on /dev/null) exited 0 and left a token
 * active that was written nowhere. 2: a token given with --data or --store was accepted and silently ignored, where
 * --server with --data is refused.
 */

const CLI = join(import.meta.dirname, '..', 'bin', 'credence.mjs');
const dirs = tempDirs('credence-one-time-dev-null-');
afterAll(dirs.cleanup);

const SECRET = 'not.a-real.token-465';

/** `credence <args>` in bash with `redirect` after it, the server variables cleared but those of `env`. */
const credence = (args: readonly string[], redirect: string, env: Record<string, string> = {}) => {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const run = spawnSync('bash', ['-c', `${quoted} ${redirect}`], {
    encoding: 'utf8',
    env: { ...process.env, CREDENCE_URL: '', CREDENCE_TOKEN: '', CREDENCE_DATA: '', ...env },
  });
  return { code: run.status, out: run.stdout, err: run.stderr };
};

const tokensOf = async (data: string): Promise<{ tokenId: string; subject: string; state: string }[]> => {
  const listed = await runCli(['token', 'list', '--all', '--json', '--data', data]);
  expect(listed.code, listed.err).toBe(0);
  return JSON.parse(listed.out).tokens;
};

describe('a one-time token whose standard output is /dev/null', () => {
  let data = '';
  beforeAll(async () => {
    data = join(dirs.make(), 'data');
    const made = await runCli(['token', 'create', '--data', data, '--role', 'admin', '--subject', 'first', '--ttl', '1h']);
    expect(made.code, made.err).toBe(0);
  });

  for (const [how, redirect] of [
    ['> /dev/null', '> /dev/null'],
    ['>&- (stdout closed)', '>&-'],
  ] as const) {
    it(`token create ${how}: exit 2 naming standard output, nothing issued`, async () => {
      const before = await tokensOf(data);
      for (const json of [[], ['--json']]) {
        const run = credence(['token', 'create', '--data', data, '--role', 'auditor', '--subject', 'lost', '--ttl', '1h', ...json], redirect);
        expect(run.code, run.err).toBe(2);
        expect(run.err).toMatch(/standard output/);
        expect(run.err).toMatch(/\/dev\/null/);
        expect(run.err).toMatch(/shown once/);
        expect(run.err).not.toMatch(/^\s+at /m);
      }
      const after = await tokensOf(data);
      expect(after.map((t) => t.tokenId)).toEqual(before.map((t) => t.tokenId));
      expect(after.filter((t) => t.subject === 'lost')).toEqual([]);
    });
  }

  it('token create into a file still issues the token (exit 0, active)', async () => {
    const out = join(dirs.make(), 'token.txt');
    const run = credence(['token', 'create', '--data', data, '--role', 'auditor', '--subject', 'kept', '--ttl', '1h'], `> '${out}'`);
    expect(run.code, run.err).toBe(0);
    expect((await tokensOf(data)).find((t) => t.subject === 'kept')?.state).toBe('active');
  });
});

describe('a token given with a local read (--data, --store)', () => {
  let data = '';
  let tokenFile = '';
  beforeAll(async () => {
    const dir = dirs.make();
    data = join(dir, 'data');
    const made = await runCli(['token', 'create', '--data', data, '--role', 'admin', '--subject', 'first', '--ttl', '1h']);
    expect(made.code, made.err).toBe(0);
    tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, SECRET, { mode: 0o600 });
  });

  it('history --data with --token: exit 2 naming --token, the token never echoed', async () => {
    const run = await runCli(['history', 'node-x', '--data', data, '--token', SECRET]);
    expect(run.code, run.err).toBe(2);
    expect(run.err).toMatch(/--token\b/);
    expect(run.err + run.out).not.toContain(SECRET);
  });

  it('history --store with --token-file: exit 2 naming --token-file', async () => {
    const run = await runCli(['history', 'node-x', '--store', `sqlite:${data}`, '--token-file', tokenFile]);
    expect(run.code, run.err).toBe(2);
    expect(run.err).toMatch(/--token-file/);
    expect(run.err + run.out).not.toContain(SECRET);
  });

  it('with CREDENCE_URL set, --data and --token: exit 2, not a silent local read', async () => {
    const run = await runCli(['history', 'node-x', '--data', data, '--token', SECRET], { CREDENCE_URL: 'http://127.0.0.1:9' });
    expect(run.code, run.err).toBe(2);
    expect(run.err).toMatch(/--token\b/);
    expect(run.err + run.out).not.toContain(SECRET);
  });

  it('token create --data with --token-file: exit 2, nothing issued', async () => {
    const before = (await tokensOf(data)).length;
    const run = await runCli(['token', 'create', '--data', data, '--role', 'auditor', '--subject', 'x', '--ttl', '1h', '--token-file', tokenFile]);
    expect(run.code, run.err).toBe(2);
    expect(run.err).toMatch(/--token-file/);
    expect(run.out).toBe('');
    expect((await tokensOf(data)).length).toBe(before);
  });

  it('CREDENCE_TOKEN in the environment with --data is left alone (README: exported for server commands)', async () => {
    const run = await runCli(['token', 'list', '--data', data, '--json'], { CREDENCE_TOKEN: SECRET });
    expect(run.code, run.err).toBe(0);
  });
});
