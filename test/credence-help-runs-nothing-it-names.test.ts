/**
 * Review 177 (1): `credence help token revoke tok_X` revoked tok_X. The help of a subcommand (review 173) gave the words
 * after `help` to commander as a command once one of them named no subcommand, so an argument ran the command it
 * followed: `help pseudonym rotate meter-1`, `help projections rebuild all` and `help history <stream>` as well. `help`
 * now runs nothing: at the first word that names no subcommand it shows the help of the command reached as an error
 * (stderr, exit 2), as commander's own `help no-such` does with the program's help.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture, runCli } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';
import { tempDirs } from './support/temp-dirs.ts';

const CREDENCE = fileURLToPath(new URL('../bin/credence.mjs', import.meta.url));

const cli = async (argv: string[], env: Record<string, string> = {}) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

/** `credence <args>` as an operator runs it in `cwd`, where a local command reads ./data; no CREDENCE_* of this process. */
const credenceIn = (cwd: string, args: readonly string[]) => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CREDENCE_') && name !== 'PORT'));
  const r = spawnSync(process.execPath, [CREDENCE, ...args], { cwd, env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

/** Every file under `dir` with its size and modification time: what a read that opens the store, or a rebuild, changes. */
const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((name) => {
      const s = statSync(join(dir, name));
      return [name, `${s.size}@${s.mtimeMs}`];
    }),
  );

describe('credence help <words> runs nothing', () => {
  const dirs = tempDirs('credence-help-runs-nothing-');
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
    dirs.cleanup();
  });

  it('help token revoke <id> against a live service shows the help of token revoke (exit 2); the token stays valid', async () => {
    const admin = { CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.admin };
    const created = await cli(['token', 'create', '--role', 'auditor', '--subject', 'dora', '--ttl', '1h', '--json'], admin);
    expect(created.code, created.err).toBe(0);
    const { tokenId, token } = JSON.parse(created.out) as { tokenId: string; token: string };

    const help = await cli(['help', 'token', 'revoke', tokenId], admin);
    expect(help.code, help.err).toBe(2);
    expect(help.out).toBe('');
    expect(help.err).toMatch(/^Usage: credence token revoke /m);
    expect(help.err).not.toContain('revoked');

    const listed = JSON.parse((await cli(['token', 'list', '--json'], admin)).out) as { tokens: { tokenId: string; state: string }[] };
    expect(listed.tokens.find((t) => t.tokenId === tokenId)).toMatchObject({ state: 'active' });
    expect((await cli(['replay', '--server', svc.url, '--token', token])).code).toBe(0);
  });

  it('help history <stream> and help projections rebuild all read and write nothing in ./data', async () => {
    const cwd = dirs.make();
    const data = join(cwd, 'data');
    const served = await startTestService({ dir: data });
    const created = await cli(['subscription', 'create', 'sub-help', '--subscriber', 'S', '--not-after', '2030-01-01T00:00:00Z', '--server', served.url, '--token', served.tokens.operator]);
    await served.close();
    expect(created.code, created.err).toBe(0);
    const before = snapshot(data);

    const history = credenceIn(cwd, ['help', 'history', 'subscription-sub-help']);
    expect(history.code, history.err).toBe(2);
    expect(history.out).toBe('');
    expect(history.err).toMatch(/^Usage: credence history /m);

    const rebuild = credenceIn(cwd, ['help', 'projections', 'rebuild', 'all']);
    expect(rebuild.code, rebuild.err).toBe(2);
    expect(rebuild.out).toBe('');
    expect(rebuild.err).toMatch(/^Usage: credence projections rebuild /m);

    expect(snapshot(data)).toEqual(before);
  });

  it('makes no data folder where there is none', () => {
    const cwd = dirs.make();
    for (const words of [['history', 'node-x'], ['projections', 'rebuild', 'all'], ['pseudonym', 'rotate', 'meter-1']]) {
      const r = credenceIn(cwd, ['help', ...words]);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(new RegExp(`^Usage: credence ${words.slice(0, -1).join(' ')} `, 'm'));
      expect(r.err).not.toMatch(/^error:/m);
    }
    expect(readdirSync(cwd)).toEqual([]);
    expect(existsSync(join(cwd, 'data'))).toBe(false);
  });

  it('says a word naming no command as commander says one at the top level: the help reached, as an error', async () => {
    const top = await runCli(['help', 'no-such']);
    const nested = await runCli(['help', 'token', 'no-such']);
    const options = await runCli(['help', 'token', 'revoke', '--reason', 'x', 'tok_AAAAAAAAAAAAAAAAAAAAAA']);
    for (const [r, usage] of [[top, /^Usage: credence \[options\] \[command\]/m], [nested, /^Usage: credence token /m], [options, /^Usage: credence token revoke /m]] as const) {
      expect(r.code, r.err).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toMatch(usage);
    }
  });
});
