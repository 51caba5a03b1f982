import { concurrencyConflict, type CredenceError } from '../../../../domain/errors.ts';
import type { ExpectedRevision } from '../../../../domain/ports/event-store.ts';

export const describeRevision = (revision: bigint | undefined): string =>
  revision === undefined ? 'no stream' : `revision ${revision}`;

const describeExpected = (expected: ExpectedRevision): string => {
  switch (expected.kind) {
    case 'no_stream':
      return 'no stream';
    case 'any':
      return 'any revision';
    case 'exact':
      return `revision ${expected.revision}`;
    default: {
      const never: never = expected;
      throw new Error(`options.expectedRevision: unknown kind ${JSON.stringify(never)}`);
    }
  }
};

export const meets = (expected: ExpectedRevision, actual: bigint | undefined): boolean => {
  switch (expected.kind) {
    case 'any':
      return true;
    case 'no_stream':
      return actual === undefined;
    case 'exact':
      return actual === expected.revision;
    default: {
      const never: never = expected;
      throw new Error(`options.expectedRevision: unknown kind ${JSON.stringify(never)}`);
    }
  }
};

/** The conflict for a failed expectation, worded like `stream x was expected at no stream but is at revision 3`. */
export const conflictFor = (streamId: string, expected: ExpectedRevision, actual: bigint | undefined): CredenceError =>
  concurrencyConflict(streamId, describeExpected(expected), describeRevision(actual));
