/**
 * Found in review: a value that looks like an option was taken as the value of the option before it.
 * `credence token create --role admin --subject a --ttl 1h --data --json` exited 0, made `./--json/` and printed an
 * admin token as plain text; `--token --json` sent `--json` as the bearer token. Such a value is bad usage (exit 2);
 * a path that starts with `-` is written `./-name`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BearerToken, PathArg } from '../bin/commands/options.ts';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const CREDENCE = fileURLToPath(new URL('../bin/credence.mjs', import.meta.url));
const folder = temporaryFolders('credence-option-value-');

/** `credence <args>` as an operator runs it, in `cwd`: a relative path such as `--json` lands there, not in the repository. */
const credenceIn = (cwd: string, args: readonly string[]) => {
  const r = spawnSync(process.execPath, [CREDENCE, ...args], { cwd, encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '' }, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('a value that looks like an option', () => {
  it('token create --data --json: exit 2, no folder ./--json, no token printed', () => {
    const cwd = folder();
    const r = credenceIn(cwd, ['token', 'create', '--role', 'admin', '--subject', 'a', '--ttl', '1h', '--data', '--json']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/^error: --data: --json looks like an option \(was the value left out\?\); write \.\/--json to mean a path$/m);
    expect(r.out).toBe('');
    expect(existsSync(join(cwd, '--json'))).toBe(false);
  }, 90_000);

  it('--token --json is never sent as the bearer token, and the message does not repeat it', async () => {
    const r = await runCli(['token', 'list', '--server', 'http://127.0.0.1:9', '--token', '--json']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('error: --token: looks like an option (was the token left out?): a token never starts with -');
  });

  it('every path option of token, serve and the shared server options refuses one', async () => {
    for (const args of [
      ['token', 'create', '--role', 'admin', '--subject', 'a', '--ttl', '1h', '--config', '--json'],
      ['token', 'rotate-key', '--data', '--json'],
      ['token', 'list', '--server', 'http://127.0.0.1:9', '--token-file', '--json'],
      // A bad --port too, so that a serve which took the value would stop at it rather than start.
      ['serve', '--data', '--log-level', '--port', '99999'],
      ['serve', '--config', '--log-level', '--port', '99999'],
      ['serve', '--signing', '--log-level', '--port', '99999'],
    ]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(/^error: --[\w-]+: --[\w-]+ looks like an option/m);
    }
  });

  it('a path written ./-name, and a token of the usual form, are taken', () => {
    expect(PathArg.safeParse('./--json').success).toBe(true);
    expect(PathArg.safeParse('-x').success).toBe(false);
    expect(BearerToken.safeParse('eyJhbGciOiJFZERTQSJ9.e30.c2ln').success).toBe(true);
  });
});
