import { describe, expect, it } from 'vitest';
import { EventStoreDbError } from '../adapters/driven/store/eventstoredb/driver.ts';
import { mapError } from '../adapters/http/problems.ts';

/*
 * Review 386 item 3: a command whose reads before any write failed (the stream's and the facts' checks: the adapter
 * gives those the appendOutcome nothing_written, as the CLI reads it) was answered "a command sent may have been
 * stored". Nothing was: the answer says so; one whose write went out still says it may have been stored.
 */
describe('a command the event store failed before anything was written', () => {
  it('is answered 503 store_unavailable saying nothing was stored', () => {
    const error = new EventStoreDbError(`EventStoreDB read of node-a failed: 14 UNAVAILABLE: No connection established`, true, { unreachable: true, appendOutcome: 'nothing_written' });
    const mapped = mapError(error, 'command');
    expect(mapped).toMatchObject({ status: 503, code: 'store_unavailable', extensions: { reason: 'unreachable' } });
    expect(mapped.detail).toContain('nothing was stored');
    expect(mapped.detail).not.toContain('may have been stored');
  });

  it('still says a command may have been stored once a write of it went out', () => {
    const error = new EventStoreDbError(`EventStoreDB append to node-a failed: 14 UNAVAILABLE: Connection dropped`, true, { unreachable: true, appendOutcome: 'may_be_written' });
    expect(mapError(error, 'command').detail).toContain('may have been stored');
  });
});
