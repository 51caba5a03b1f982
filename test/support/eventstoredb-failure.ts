import { expect } from 'vitest';
import { EventStoreDbError } from '../../adapters/driven/store/eventstoredb/index.ts';

/** The call's rejection, which must be the EventStoreDB adapter's own error. */
export const eventStoreDbFailure = async (call: () => Promise<unknown>): Promise<EventStoreDbError> => {
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EventStoreDbError);
  return error as EventStoreDbError;
};
