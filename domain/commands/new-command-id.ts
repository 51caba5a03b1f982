import { validationError, type CredenceError } from '../errors.ts';
import { isLowerCaseCommandId } from '../ids.ts';

/** The rule a new command's id breaks when it is not in RFC 9562's lower-case form. */
const LOWER_CASE_RULE = 'lower_case';

/**
 * The refusal of a new command whose id is not in lower case (review 186), or undefined. Asked only where a command
 * becomes new events (decide.ts), after its id was looked for: a command recorded under an upper-case id before this
 * rule (every version before review 78 kept ids as sent) is still found and answered when retried under it (review
 * 86), which a rule in the command's schema would refuse. The id is never folded: a signature covers it as sent.
 */
export const newCommandIdRefusal = (commandId: string): CredenceError | undefined =>
  isLowerCaseCommandId(commandId)
    ? undefined
    : validationError(
        [{
          path: 'metadata.commandId',
          rule: LOWER_CASE_RULE,
          message:
            `${commandId} is not in lower case, the form RFC 9562 writes a UUID in: ids are compared as sent, so the same UUID ` +
            `in another case would be another command; send it in lower case (${commandId.toLowerCase()})`,
        }],
        'command',
      );
