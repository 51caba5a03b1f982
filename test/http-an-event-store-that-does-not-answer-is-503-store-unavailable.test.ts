import { describe, expect, it } from 'vitest';
import { EventStoreDbError } from '../adapters/driven/store/eventstoredb/driver.ts';
import { mapError } from '../adapters/http/problems.ts';

/*
 * An EventStoreDB server that could not be reached or did not answer within its deadline (review 55) reached the
 * service's error handler as a plain error: 500 internal, no hint that a retry is safe. It is a store that is
 * unavailable for now, as a busy SQLite store is: 503 with Retry-After, the server's name kept out of the answer.
 */
describe('an event store that does not answer', () => {
  it('is answered 503 store_unavailable, reason unreachable, with Retry-After, naming no server', () => {
    const error = new EventStoreDbError('EventStoreDB append failed: esdb-1.internal:2113 did not answer within 10 s (defaultDeadline)', true, { unreachable: true });
    const mapped = mapError(error);
    expect(mapped).toMatchObject({ status: 503, code: 'store_unavailable', extensions: { reason: 'unreachable' }, headers: { 'retry-after': '5' } });
    expect(mapped.detail).not.toContain('esdb-1.internal');
  });

  it('leaves an error of the store that a retry would not mend as it was', () => {
    expect(mapError(new EventStoreDbError('append to node-a: no position returned, and none read back', false))).toMatchObject({ status: 500, code: 'internal' });
  });
});
