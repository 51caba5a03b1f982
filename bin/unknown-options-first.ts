import type { Command, Option } from 'commander';
import { muteOnLeaves } from './muted-reports.ts';

/** Commander's own report of an unknown option (commander 14; public, but its `this.error` is what is reworded). */
interface ReportsUnknown {
  unknownOption(flag: string): void;
}

/** Commander's own report of a mandatory option left out (commander 14; not in its typings). */
interface ReportsMissing {
  missingMandatoryOptionValue(option: Option): void;
}

/**
 * An unknown option is said before a mandatory option left out, on every command of `program`: commander checks the
 * mandatory ones first, so `node register meter-2 --clas meter` said "required option '--class <class>' not
 * specified" and never named the typo (found in review). On each leaf command with a mandatory option, commander's
 * own check is muted, and made again with its own report once its check of unknown options (with its "Did you mean"
 * suggestion) has passed, before the action runs: both stay commander's wording and exit 2. Nothing is kept between
 * parses: the check reads the options the command holds when its action is about to run. An unknown option given with
 * its value in one word is named without the value (withoutTheirValues, review 431).
 */
export const reportUnknownOptionsFirst = (program: Command): void => {
  withoutTheirValues(program);
  const muted = muteOnLeaves<ReportsMissing, 'missingMandatoryOptionValue'>(program, 'missingMandatoryOptionValue', (command) =>
    command.options.some((o) => o.mandatory),
  );
  program.hook('preAction', (_program, actionCommand) => {
    const report = muted.get(actionCommand);
    if (report === undefined) return;
    const missing = actionCommand.options.find((o) => o.mandatory && actionCommand.getOptionValue(o.attributeName()) === undefined);
    if (missing !== undefined) report(missing);
  });
};

/** An unknown option's name as commander bounds a quoted value (command-settings.ts boundEchoes): 64 characters. */
const shownName = (name: string): string => {
  const chars = [...name];
  return chars.length <= 64 ? name : `${chars.slice(0, 64).join('')}… (${chars.length} characters)`;
};

/**
 * An unknown option given with its value in one word (`--tokn=SECRET`) is named without the value, on `command` and
 * every command under it: commander quoted the whole word, so a mistyped secret option printed the secret (review
 * 431). Commander's report is made for the name alone (its "Did you mean" suggestion, its exit 2), said to be the name
 * alone: `error: unknown option '--tokn' (its value not repeated)`. Any other unknown option is commander's as it was.
 */
const withoutTheirValues = (command: Command): void => {
  for (const sub of command.commands) withoutTheirValues(sub);
  const reports = command as unknown as ReportsUnknown;
  const report = reports.unknownOption.bind(command);
  reports.unknownOption = (flag) => {
    const equals = flag.indexOf('=');
    if (!flag.startsWith('--') || equals === -1) return report(flag);
    const name = flag.slice(0, equals);
    const error = command.error.bind(command);
    // Own property, for this one report: commander's `error` throws (exitOverride), and the prototype's is back after.
    command.error = (message, options) => error(message.replace(`'${name}'`, `'${shownName(name)}' (its value not repeated)`), options);
    try {
      report(name);
    } finally {
      delete (command as { error?: unknown }).error;
    }
  };
};
