/**
 * Review 368 (finding 2): `--help` showed a mandatory option (credential revoke --reason, credential provision --method,
 * node enrol --subscription and --cse-id, token create --role, ...) as it showed an optional one, so the operator
 * learnt it was required only from the refusal. Every mandatory option's description now ends in "(required)", said
 * by the program's help for every command, and no optional one's does.
 */
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { loadCommandModules, main } from '../bin/cli.ts';
import { createProgram } from '../bin/program.ts';
import { capture } from './support/cli.ts';

const everyCommand = async (): Promise<Command[]> => {
  const commands: Command[] = [];
  const walk = (command: Command): void => {
    for (const sub of command.commands) {
      commands.push(sub);
      walk(sub);
    }
  };
  walk(createProgram(capture().io, await loadCommandModules()));
  return commands;
};

const helpOf = async (path: string[]): Promise<string> => {
  const c = capture();
  expect(await main([...path, '--help'], c.io)).toBe(0);
  // Commander wraps a long description: joined again, one option per entry.
  return c.out.join('\n').replace(/\n\s{10,}/g, ' ');
};

describe('credence --help marks the options a command requires', () => {
  it.each([
    [['credential', 'revoke'], '--reason <reason>'],
    [['credential', 'provision'], '--method <method>'],
    [['credential', 'abandon-rotation'], '--successor <credentialId>'],
    [['node', 'enrol'], '--subscription <subscriptionId>'],
    [['node', 'enrol'], '--cse-id <cseId>'],
    [['token', 'create'], '--role <role>'],
    [['token', 'create'], '--subject <subject>'],
  ])('%j says %s is required', async (path, flags) => {
    const help = await helpOf(path);
    const line = help.split('\n').find((l) => l.trimStart().startsWith(flags));
    expect(line, help).toBeDefined();
    expect(line).toMatch(/\(required\)$/);
  });

  it('every mandatory option of every command, and no other, is described as required', async () => {
    const wrong: string[] = [];
    for (const command of await everyCommand()) {
      const help = command.createHelp();
      for (const option of command.options) {
        if (help.optionDescription(option).endsWith('(required)') !== option.mandatory) wrong.push(`${command.name()} ${option.flags}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('an optional option is not marked', async () => {
    const help = await helpOf(['credential', 'revoke']);
    expect(help.split('\n').find((l) => l.trimStart().startsWith('--json'))).not.toContain('(required)');
  });
});
