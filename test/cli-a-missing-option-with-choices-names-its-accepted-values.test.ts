import type { Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { loadCommandModules, main } from '../bin/cli.ts';
import { createProgram } from '../bin/program.ts';
import { capture } from './support/cli.ts';

// `credence device init` without --kind said only "required option '--kind <kind>' not specified": the operator had
// to ask --help for what it takes. Every mandatory option with a fixed set of values now names them.

interface Case {
  readonly path: readonly string[];
  readonly command: Command;
  readonly option: Option;
}

/** Every mandatory option with choices, with the command path that holds it. */
const casesOf = (program: Command): Case[] => {
  const cases: Case[] = [];
  const walk = (command: Command, path: readonly string[]): void => {
    for (const option of command.options) if (option.mandatory && option.argChoices !== undefined) cases.push({ path, command, option });
    for (const sub of command.commands) walk(sub, [...path, sub.name()]);
  };
  walk(program, []);
  return cases;
};

/** The command with its arguments and every other mandatory option given, so the one left out is what is missing. */
const argvWithout = ({ path, command, option }: Case): string[] => {
  const argv = [...path, ...command.registeredArguments.filter((a) => a.required).map(() => 'x')];
  for (const other of command.options) {
    if (other === option || !other.mandatory) continue;
    argv.push(other.long ?? other.short ?? other.flags, other.argChoices?.[0] ?? 'x');
  }
  return argv;
};

describe('a mandatory option with choices left out', async () => {
  const cases = casesOf(createProgram(capture().io, await loadCommandModules()));

  it('is bad usage that names the values the option accepts, on every command that has one', async () => {
    const found = cases.map((c) => `${c.path.join(' ')} ${c.option.long ?? ''}`);
    for (const expected of ['device init --kind', 'device provision --kind', 'token create --role', 'credential revoke --reason', 'credential issue --kind']) {
      expect(found).toContain(expected);
    }
    for (const c of cases) {
      const argv = argvWithout(c);
      const run = capture();
      expect(await main(argv, run.io), argv.join(' ')).toBe(2);
      expect(run.err[0], argv.join(' ')).toBe(`error: required option '${c.option.flags}' not specified (one of: ${c.option.argChoices!.join(', ')})`);
      expect(run.out, argv.join(' ')).toEqual([]);
    }
  });

  it('says device init\'s key kinds', async () => {
    const run = capture();
    expect(await main(['device', 'init', '--node-id', 'meter-9'], run.io)).toBe(2);
    expect(run.err[0]).toBe("error: required option '--kind <kind>' not specified (one of: ed25519, p256)");
  });
});
