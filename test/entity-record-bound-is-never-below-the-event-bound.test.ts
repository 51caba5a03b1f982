import { describe, expect, it } from 'vitest';
import { serviceConfig } from '../adapters/http/config.ts';
import { refuseLongEntity } from '../adapters/http/routes/entity-bound.ts';
import type { ServiceContext } from '../adapters/http/context.ts';
import type { HttpProblem } from '../adapters/http/problems.ts';
import { entityRecordBound } from '../adapters/http/service-limits-config.ts';
import { isCredenceError } from '../domain/errors.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import type { ReadStreamOptions, RecordedEvent } from '../domain/ports/index.ts';

/**
 * Review 172: `limits.maxEntityRecords` bounds the records (fact claims included) one whole-stream read of an entity
 * takes on EventStoreDB, where `limits.maxEntityEvents` now counts lifecycle events only. Unset, it is 10 times the
 * event bound; below the event bound it would refuse an entity the event bound lets through, so it is refused.
 */
describe('the record bound of one entity', () => {
  it('defaults to 10 times maxEntityEvents and follows it', () => {
    expect(entityRecordBound(serviceConfig({}).limits)).toBe(100_000);
    expect(entityRecordBound(serviceConfig({ limits: { maxEntityEvents: 7 } }).limits)).toBe(70);
    expect(entityRecordBound(serviceConfig({ limits: { maxEntityEvents: 7, maxEntityRecords: 7 } }).limits)).toBe(7);
  });

  it('is refused below maxEntityEvents with a validation error naming both', () => {
    try {
      serviceConfig({ limits: { maxEntityEvents: 100, maxEntityRecords: 99 } });
      throw new Error('expected a refusal');
    } catch (error) {
      if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') throw error;
      expect(error.problem.issues).toEqual([
        { path: 'limits.maxEntityRecords', rule: 'records_at_least_events', message: expect.stringContaining('limits.maxEntityEvents (100)') },
      ]);
    }
  });

  /** A context over a claiming store (EventStoreDB's behaviour) whose one stream holds `types`, one record each. */
  const over = (types: readonly string[], limits: { maxEntityEvents: number; maxEntityRecords?: number }) => {
    const reads: ReadStreamOptions[] = [];
    const store = {
      readStream: async (_streamId: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> => {
        reads.push(options);
        const from = Number(options.fromRevision ?? 0n);
        return types.slice(from, from + (options.maxCount ?? types.length)).map((type, i) => ({ type, revision: BigInt(from + i) }) as RecordedEvent);
      },
    };
    return { reads, context: { credence: { store }, limits } as unknown as ServiceContext };
  };
  const refusal = async (context: ServiceContext): Promise<Record<string, unknown> | undefined> => {
    try {
      await refuseLongEntity(context, 's', 'page it');
      return undefined;
    } catch (error) {
      return { ...(error as HttpProblem).extensions, message: (error as Error).message };
    }
  };

  it('on a store that claims facts, refuses past maxEntityEvents lifecycle events however many claims lie between them', async () => {
    const types = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 'Lifecycle' : FACT_CLAIM_TYPE));
    expect(await refusal(over(types, { maxEntityEvents: 4 }).context)).toBeUndefined();
    expect(await refusal(over(types, { maxEntityEvents: 3 }).context)).toMatchObject({
      events: 4, records: 12, claims: 8, maxEvents: 3, maxRecords: 30, message: expect.stringMatching(/holds 4 events, more than the 3 .*8 of the first 12 of its 12 records are EventStoreDB fact claims/),
    });
  });

  it('reads no more than maxEntityRecords records of a stream longer than that, in pages', async () => {
    const types = Array.from({ length: 5_000 }, (_, i) => (i === 0 ? 'Lifecycle' : FACT_CLAIM_TYPE));
    const { reads, context } = over(types, { maxEntityEvents: 10, maxEntityRecords: 2_500 });
    expect(await refusal(context)).toMatchObject({ events: 1, records: 5_000, claims: 2_499, maxRecords: 2_500, message: expect.stringMatching(/5000 records, more than the 2500 .*limits\.maxEntityRecords/) });
    const paged = reads.filter((o) => o.maxCount !== 1);
    expect(paged.reduce((n, o) => n + (o.maxCount ?? Infinity), 0)).toBe(2_500);
    expect(Math.max(...paged.map((o) => o.maxCount!))).toBeLessThanOrEqual(1_000);
  });
});
