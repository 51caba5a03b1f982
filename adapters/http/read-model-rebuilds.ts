import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import { describeOtherLog, describeRulesChange, describeSchemaChange, type ProjectionLag, type ProjectionRunner } from '../../projections/runtime/index.ts';
import { LAG_COUNT_LIMIT } from '../runtime/live-lag.ts';

/**
 * Before the live runtime starts: each read model rebuilt from position 0, and why, said once at warn. Returns the lags
 * counted for that (LiveOptions.counted: the start does not read them again when nothing was appended since).
 */
export const warnReadModelRebuilds = async (runner: ProjectionRunner, log: FastifyBaseLogger): Promise<readonly ProjectionLag[]> => {
  const counted: ProjectionLag[] = [];
  // Read models built from another log (the event store restored from an older backup) are reset and rebuilt
  // before anything is served from them; said once, at warn: events acknowledged since that backup are gone.
  for (const other of await runner.checkLog()) {
    log.warn({ projection: other.name, reason: other.reason }, `read model rebuilt from position 0: ${describeOtherLog(other)}`);
  }
  // The same for a read model built under other rules: the audit trail under another signing policy (or none) is
  // rebuilt under the service's, so that every row is judged by the policy the service enforces.
  for (const change of await runner.checkRules()) {
    log.warn({ projection: change.name }, `read model rebuilt from position 0: ${describeRulesChange(change)}`);
  }
  // And a read model written by another version of its tables (an upgrade, or a downgrade: a newer Credence's file),
  // emptied when opened (projections/runtime/schema-version.ts): said once, with what the rebuild reads (review 51).
  for (const change of runner.schemaChanges()) {
    const lag = await runner.lag(change.name, LAG_COUNT_LIMIT);
    counted.push(lag);
    const { eventsBehind } = lag;
    const atLeast = lag.eventsBehindAtLeast === true;
    log.warn(
      // The structured count flagged as the message words it (review 416): at least `events` when its read stopped.
      { projection: change.name, storedVersion: change.stored, version: change.version, events: eventsBehind, ...(atLeast ? { eventsAtLeast: true } : {}) },
      // By the count's own flag (review 413): a read that stopped at its limit counts fewer when it passed records over.
      describeSchemaChange(change, eventsBehind, atLeast),
    );
    // Each count is a read of the log: the probes answer between them.
    await yieldToLoop();
  }
  return counted;
};
