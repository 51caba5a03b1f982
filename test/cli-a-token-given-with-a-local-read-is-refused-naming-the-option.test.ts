import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { tempDirs } from './support/temp-dirs.ts';

/*
 * Review 465: a token given with --data or --store was accepted and silently ignored, where --server with --data is
 * refused.
 */

const dirs = tempDirs('credence-token-with-local-read-');
afterAll(dirs.cleanup);

const SECRET = 'not.a-real.token-465';

const tokensOf = async (data: string): Promise<{ tokenId: string; subject: string; state: string }[]> => {
  const listed = await runCli(['token', 'list', '--all', '--json', '--data', data]);
  expect(listed.code, listed.err).toBe(0);
  return JSON.parse(listed.out).tokens;
};

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
