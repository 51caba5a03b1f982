import type { Command } from '../../domain/commands/index.ts';
import { validationError, type CredenceError } from '../../domain/errors.ts';

/**
 * A new credential or subscription must still be valid when it is recorded: one whose notAfter has passed would
 * be born expired, a credential no node could ever use and a subscription no node could enrol under, left for the
 * expiry scheduler to end at once. A rule of new commands at the instant they are decided, not of the machines:
 * histories stored before it (and imports of past ones through the store) replay as they were. The refusal, when
 * there is one; the decision (decide.ts) throws it once the command is known not to be recorded already, so a retry
 * of one recorded while valid gets its first outcome, whatever the time now.
 */
export const bornExpired = (command: Command, at: Date): CredenceError | undefined => {
  if (command.type !== 'issueCredential' && command.type !== 'createSubscription') return undefined;
  const { notAfter } = command.data;
  if (Date.parse(notAfter) > at.getTime()) return undefined;
  return validationError(
    [{ path: 'data.notAfter', rule: 'after_now', message: `must be later than the instant the command is recorded at (${at.toISOString()})` }],
    'command',
  );
};
