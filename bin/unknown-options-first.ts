import type { Command, Option } from 'commander';
import { muteOnLeaves } from './muted-reports.ts';

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
 * parses: the check reads the options the command holds when its action is about to run.
 */
export const reportUnknownOptionsFirst = (program: Command): void => {
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
