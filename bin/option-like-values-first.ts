import type { Command } from 'commander';
import { muteOnLeaves } from './muted-reports.ts';

/** Commander's own report of arguments past those a command takes (commander 14; not in its typings). */
interface ReportsExcess {
  _excessArguments(received: readonly string[]): void;
}

/**
 * A value left out before an option that takes one (`--model --token-file FILE`) is said naming the option, before
 * commander's "too many arguments" (review 295: commander took `--token-file` as the model and FILE as one more
 * argument, and refused that before any action ran, so parseOptions never named --model). On each leaf command,
 * commander's excess-argument check is muted and made again before the action runs, after `refuseOptionLikeValues`
 * has judged the values that look like an option: with one among them it is the cause, said as parseOptions says it
 * (the refusal ends the parse); without, commander's own report, its wording and exit 2. Hooked before
 * reportUnknownOptionsFirst's: a left-out value also leaves a mandatory option unset (`--class --manufacturer m`).
 */
export const reportOptionLikeValuesFirst = (program: Command, refuseOptionLikeValues: (command: Command) => void): void => {
  const muted = muteOnLeaves<ReportsExcess, '_excessArguments'>(program, '_excessArguments', () => true);
  program.hook('preAction', (_program, action) => {
    const report = muted.get(action);
    const registered = action.registeredArguments;
    if (report === undefined || registered.at(-1)?.variadic === true || action.args.length <= registered.length) return;
    refuseOptionLikeValues(action);
    report(action.args);
  });
};
