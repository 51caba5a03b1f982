import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { loadCommandModules, main } from '../bin/cli.ts';
import { createProgram } from '../bin/program.ts';
import { capture } from './support/cli.ts';

/** Every command path of the program: `['credential', 'revoke']`, `['query']`, … */
const commandPaths = async (): Promise<string[][]> => {
  const paths: string[][] = [];
  const walk = (command: Command, prefix: string[]): void => {
    for (const sub of command.commands) {
      if (sub.name() === 'help') continue;
      const path = [...prefix, sub.name()];
      paths.push(path);
      walk(sub, path);
    }
  };
  walk(createProgram(capture().io, await loadCommandModules()), []);
  return paths;
};

describe('credence --help', async () => {
  const paths = await commandPaths();

  it('knows the read, lifecycle, service and token commands', () => {
    const names = paths.map((p) => p.join(' '));
    for (const expected of [
      'replay', 'history', 'state', 'query', 'verify', 'export', 'projections status', 'projections rebuild', 'demo', 'serve',
      'token create', 'token list', 'token revoke', 'command', 'subscription create', 'subscription terminate', 'node register',
      'node enrol', 'node revoke', 'credential issue', 'credential provision', 'credential rotate', 'credential revoke',
      'application register', 'association configure', 'association establish', 'association revoke', 'device init',
    ]) {
      expect(names).toContain(expected);
    }
  });

  it('prints usage on stdout and exits 0 for the program, every command and every subcommand', async () => {
    const top = capture();
    expect(await main(['--help'], top.io)).toBe(0);
    expect(top.out.join('\n')).toMatch(/^Usage: credence /);
    for (const path of paths) {
      const c = capture();
      expect(await main([...path, '--help'], c.io), path.join(' ')).toBe(0);
      expect(c.out.join('\n'), path.join(' ')).toMatch(new RegExp(`^Usage: credence ${path.join(' ')}`));
      expect(c.err, path.join(' ')).toEqual([]);
    }
  });

  it('answers `credence query --help` (an error before commander) and `credence help <command>`', async () => {
    const query = capture();
    expect(await main(['query', '--help'], query.io)).toBe(0);
    expect(query.out.join('\n')).toContain('dangling-associations');
    const help = capture();
    expect(await main(['help', 'verify'], help.io)).toBe(0);
    expect(help.out.join('\n')).toMatch(/^Usage: credence verify/);
  });

  it('exits 2 on an unknown option, an unknown command, a missing argument and no command at all', async () => {
    const cases: [string[], RegExp][] = [
      [['replay', '--frobnicate'], /unknown option '--frobnicate'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['history'], /missing required argument 'stream'/],
      [['credential', 'revoke', 'c1'], /required option '--reason <reason>' not specified/],
      [['credential', 'revoke', 'c1', '--reason', 'boredom'], /argument 'boredom' is invalid/],
      [['node'], /Usage: credence node/],
      [[], /Usage: credence/],
    ];
    for (const [argv, message] of cases) {
      const c = capture();
      expect(await main(argv, c.io), argv.join(' ')).toBe(2);
      expect(c.err.join('\n'), argv.join(' ')).toMatch(message);
      expect(c.out, argv.join(' ')).toEqual([]);
    }
  });

  it('exits 2 naming the option when zod refuses a value commander accepted', async () => {
    const c = capture();
    expect(await main(['subscription', 'create', 's1', '--subscriber', 'S', '--not-after', 'tomorrow', '--server', 'http://127.0.0.1:9', '--token', 't'], c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(/^error: --not-after: must be an ISO 8601 date-time/m);
    const server = capture();
    expect(await main(['node', 'revoke', 'n1', '--reason', 'keyCompromise', '--server', 'ftp://x', '--token', 't'], server.io)).toBe(2);
    expect(server.err.join('\n')).toContain('--server: must be an http:// or https:// URL');
    const noServer = capture();
    expect(await main(['node', 'revoke', 'n1', '--reason', 'keyCompromise'], { ...noServer.io, env: {} })).toBe(2);
    expect(noServer.err.join('\n')).toContain('--server: required (or set CREDENCE_URL)');
  });
});
