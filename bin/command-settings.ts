import { Help, type Command, type Option } from 'commander';
import type { Io } from './io.ts';
import { printable } from './printable.ts';

/**
 * Commander says a mandatory option was left out without what it accepts: `--kind` of `device init` or `--reason` of
 * a revocation has a fixed set of values, which the operator would otherwise look up in --help. Found by commander's
 * wording among this command's own options (the error is raised by the command that holds the option).
 */
const withChoices = (command: Command, text: string): string => {
  for (const option of command.options) {
    if (!option.mandatory || option.argChoices === undefined) continue;
    const missing = `required option '${option.flags}' not specified`;
    if (text.includes(missing)) return text.replace(missing, `${missing} (one of: ${option.argChoices.join(', ')})`);
  }
  return text;
};

/** Commander's errors that quote a value as typed: the text before it, the value, and what follows it. */
const ECHOES = [
  /^(error: option '[^'\n]*' argument ')([\s\S]*)(' is invalid\.[\s\S]*)$/,
  /^(error: option '[^'\n]*' value ')([\s\S]*)(' from env [\s\S]*)$/,
  /^(error: command-argument value ')([\s\S]*)(' is invalid for argument [\s\S]*)$/,
  /^(error: unknown (?:option|command) ')([\s\S]*)('(?:\n\(Did you mean [^\n]*\))?\n?)$/,
];
const MAX_ECHO = 64;

/**
 * A value commander quotes cut to its first 64 characters, with an ellipsis and its length: found in review 218, a
 * 5,000-character `--reason` refused as no choice came back whole. Printable still (configure's writeErr).
 */
const boundEchoes = (text: string): string => {
  for (const echo of ECHOES) {
    const found = echo.exec(text);
    if (found === null) continue;
    const chars = [...found[2]!];
    if (chars.length <= MAX_ECHO) return text;
    return `${found[1]}${chars.slice(0, MAX_ECHO).join('')}… (${chars.length} characters)${found[3]}`;
  }
  return text;
};

/**
 * Help that says which options a command requires: commander listed a mandatory option (credential revoke --reason,
 * node enrol --subscription, token create --role) as it listed an optional one, so it was learnt from the refusal
 * (review 368). Marked here, for every command's mandatory options, so no description says it by hand.
 */
const HELP_MARKING_REQUIRED: Partial<Help> = {
  optionDescription(this: Help, option: Option): string {
    const described = Help.prototype.optionDescription.call(this, option);
    return option.mandatory ? `${described} (required)` : described;
  },
};

/** Settings every command and subcommand shares: errors thrown (not process.exit), output through `io`, help marking required options. */
export const configure = (command: Command, io: Io): Command =>
  command
    .exitOverride()
    .configureHelp(HELP_MARKING_REQUIRED)
    .configureOutput({
      writeOut: (text) => io.out(text.replace(/\n$/, '')),
      // Commander's errors quote what was typed (an unknown command or option, a bad choice): each line through
      // printable, so an argument holding ESC or OSC sequences cannot write to the operator's terminal.
      writeErr: (text) => io.err(text.replace(/\n$/, '').split('\n').map(printable).join('\n')),
      outputError: (text, write) => write(withChoices(command, boundEchoes(text))),
    })
    .showHelpAfterError('(add --help for usage)');

/** `configure` on `command` and every subcommand under it. */
export const configureTree = (command: Command, io: Io): void => {
  configure(command, io);
  for (const sub of command.commands) configureTree(sub, io);
};
