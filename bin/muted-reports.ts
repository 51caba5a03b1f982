import type { Command } from 'commander';

/**
 * Mutes commander's reporting method `methodName` (one of its own, not in its typings: described by `Reports`) on each
 * leaf command of `program` that `applies` to, and answers each such command's original, bound to it, so that a
 * preAction hook can make the report again once the checks that are to be said first have passed.
 */
export const muteOnLeaves = <Reports, Name extends keyof Reports & string>(
  program: Command,
  methodName: Name,
  applies: (command: Command) => boolean,
): ReadonlyMap<Command, Reports[Name]> => {
  const muted = new Map<Command, Reports[Name]>();
  const walk = (command: Command): void => {
    for (const sub of command.commands) walk(sub);
    if (command.commands.length > 0 || !applies(command)) return;
    const reports = command as unknown as Record<Name, (...args: never[]) => void>;
    muted.set(command, reports[methodName].bind(command) as Reports[Name]);
    reports[methodName] = () => undefined;
  };
  walk(program);
  return muted;
};
