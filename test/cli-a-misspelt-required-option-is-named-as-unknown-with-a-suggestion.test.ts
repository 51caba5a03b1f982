import type { Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { loadCommandModules } from '../bin/cli.ts';
import { createProgram } from '../bin/program.ts';
import { capture, runCli } from './support/cli.ts';

// Found in review: `credence node register meter-2 --clas meter --manufacturer A --model B` said "required option
// '--class <class>' not specified" (exit 2) and never named the typo: commander checks mandatory options before
// unknown ones. The unknown option is now said first, with commander's suggestion, on every command.

interface Case {
  readonly path: readonly string[];
  readonly command: Command;
  readonly option: Option;
}

/** Every command with a mandatory option, the first of them, and the command path that holds it. */
const casesOf = (program: Command): Case[] => {
  const cases: Case[] = [];
  const walk = (command: Command, path: readonly string[]): void => {
    const option = command.options.find((o) => o.mandatory && o.long !== undefined);
    if (option !== undefined) cases.push({ path, command, option });
    for (const sub of command.commands) walk(sub, [...path, sub.name()]);
  };
  walk(program, []);
  return cases;
};

/** The command with its arguments and every other mandatory option given, and `option` misspelt (its last letter dropped). */
const argvWithTypo = ({ path, command, option }: Case): { argv: string[]; typo: string } => {
  const typo = option.long!.slice(0, -1);
  const argv = [...path, ...command.registeredArguments.filter((a) => a.required).map(() => 'x')];
  for (const other of command.options) {
    if (other === option || !other.mandatory) continue;
    argv.push(other.long ?? other.short ?? other.flags, other.argChoices?.[0] ?? 'x');
  }
  argv.push(typo, option.argChoices?.[0] ?? 'x');
  return { argv, typo };
};

describe('a required option misspelt', () => {
  it('node register --clas is an unknown option with "Did you mean --class?", not --class missing (exit 2)', async () => {
    const run = await runCli(['node', 'register', 'meter-2', '--clas', 'meter', '--manufacturer', 'A', '--model', 'B']);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/^error: unknown option '--clas'\n\(Did you mean --class\?\)/);
    expect(run.err).not.toMatch(/required option/);
    expect(run.out).toBe('');
  });

  it('is named as the unknown option it is, with the suggestion, on every command with a required option', async () => {
    const cases = casesOf(createProgram(capture().io, await loadCommandModules()));
    expect(cases.map((c) => c.path.join(' '))).toEqual(expect.arrayContaining(['node register', 'device associate', 'association configure']));
    for (const c of cases) {
      const { argv, typo } = argvWithTypo(c);
      const run = await runCli(argv);
      expect(run.code, argv.join(' ')).toBe(2);
      expect(run.err, argv.join(' ')).toContain(`error: unknown option '${typo}'\n(Did you mean ${c.option.long}?)`);
      expect(run.err, argv.join(' ')).not.toMatch(/required option/);
    }
  });

  it('left out altogether, is still said as the required option missing (exit 2)', async () => {
    const run = await runCli(['node', 'register', 'meter-2', '--manufacturer', 'A', '--model', 'B']);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/^error: required option '--class <class>' not specified/);
  });
});
