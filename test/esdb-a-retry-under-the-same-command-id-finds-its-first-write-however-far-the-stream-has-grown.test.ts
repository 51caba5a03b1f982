/**
 * Review 316: a command's append written but answered too late (its outcome unknown), then more records on its stream
 * than the idempotency scan reads (fact claims: a subscription stream gets one per enrolment), then the retry under
 * the same command id at the stream's new head. The command id's claim names this stream, and the search for the
 * first write read only the newest `idempotencyScanLimit` records: it missed the write and appended the event again,
 * the same event id stored twice under one command id, answered `deduplicated: false`. The claim was written before
 * the command's events, so everything on the stream since the claim is searched (page by page), however much it is.
 */
import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { ExpectedRevision, type EventToAppend } from '../domain/ports/event-store.ts';
import { EventStoreDbError, EventStoreDbStore, openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { commandClaimStreamOf } from '../adapters/driven/store/eventstoredb/append.ts';
import { connectEventStoreDb } from '../adapters/driven/store/eventstoredb/client.ts';
import type { EsdbDriver } from '../adapters/driven/store/eventstoredb/driver.ts';
import type { StandIn } from './esdb-standin/index.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

const DEADLINE_MS = 400;
const LATE_MS = 1500;
const { startStandIn, hold } = standInTeardown();
let standIn: StandIn;
let late: string | undefined;

beforeEach(async () => {
  late = undefined;
  // The append to the stream named `late` is written at once and answered after the store's deadline
  standIn = await startStandIn({ appendReplyDelayMs: (streamId) => (streamId === late ? LATE_MS : 0) });
});

/** The store under test; its deadline is generous, so that only the late append runs out of time (under load too). */
const openStore = (idempotencyScanLimit?: number): EventStoreDbStore =>
  hold(openEventStoreDbStore(`${standIn.connectionString}&defaultDeadline=10000`, idempotencyScanLimit === undefined ? {} : { idempotencyScanLimit }));

const utf8 = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/** A claim marker as the adapter writes it (append.ts claimRecord), put straight into the server's log. */
const claimOn = (streamId: string, claim: { claimant: string; commandId: string }): void => {
  const outcome = standIn.log.append(streamId, { kind: 'any' }, [
    { id: randomUUID(), type: FACT_CLAIM_TYPE, contentType: 'application/json', data: utf8(claim), customMetadata: utf8({}) },
  ]);
  expect(outcome.kind).toBe('success');
};

const headOf = (streamId: string): bigint => BigInt((standIn.log.stream(streamId)?.length ?? 0) - 1);
const revisionsOf = (streamId: string, eventId: string): bigint[] =>
  (standIn.log.stream(streamId) ?? []).filter((e) => e.id === eventId).map((e) => e.revision);

/**
 * The stream's first event, then the command's append at revision 0, written but answered after the deadline of the
 * process that sent it.
 */
const writtenButUnanswered = async (store: EventStoreDbStore, stream: string, commandEvent: EventToAppend, commandId: string): Promise<void> => {
  await store.appendToStream(stream, [{ id: randomUUID(), type: 'SubscriptionCreated', data: {}, metadata: {} }], { expectedRevision: ExpectedRevision.noStream });
  const impatient = hold(openEventStoreDbStore(`${standIn.connectionString}&defaultDeadline=${DEADLINE_MS}`));
  late = stream;
  const error = await impatient.appendToStream(stream, [commandEvent], { expectedRevision: ExpectedRevision.exact(0n), commandId }).then(
    () => undefined,
    (e: unknown) => e,
  );
  late = undefined;
  expect(error).toBeInstanceOf(EventStoreDbError);
  expect((error as EventStoreDbError).transient).toBe(true);
  expect(revisionsOf(stream, commandEvent.id)).toEqual([1n]);
};

describe('a retry under the same command id after the stream grew past the scan limit', () => {
  it('with a small scan limit and decisions claiming the stream as a fact, is the first write, nothing appended again', async () => {
    const store = openStore(5);
    const stream = `subscription-${randomUUID()}`;
    const commandEvent: EventToAppend = { id: randomUUID(), type: 'NodeEnrolled', data: {}, metadata: {} };
    const commandId = randomUUID();
    await writtenButUnanswered(store, stream, commandEvent, commandId);
    const first = standIn.log.stream(stream)![1]!;

    // Six decisions on other streams claim this stream as a fact (one claim marker each)
    for (let i = 0; i < 6; i++) {
      const at = headOf(stream);
      await store.appendToStream(`node-${randomUUID()}`, [{ id: randomUUID(), type: 'NodeRegistered', data: {}, metadata: {} }], {
        expectedRevision: ExpectedRevision.noStream,
        commandId: randomUUID(),
        facts: [{ streamId: stream, revision: at }],
      });
    }
    expect(headOf(stream)).toBe(7n);

    const retry = await store.appendToStream(stream, [commandEvent], { expectedRevision: ExpectedRevision.exact(headOf(stream)), commandId });

    expect(revisionsOf(stream, commandEvent.id)).toEqual([1n]);
    expect(retry).toEqual({ nextExpectedRevision: 1n, position: first.position, deduplicated: true });
    expect(headOf(stream)).toBe(7n);
  });

  it('with the default scan limit (1000) and 1001 claims after the first write, is the first write, nothing appended again', async () => {
    const store = openStore();
    const stream = `subscription-${randomUUID()}`;
    const commandEvent: EventToAppend = { id: randomUUID(), type: 'NodeEnrolled', data: {}, metadata: {} };
    const commandId = randomUUID();
    await writtenButUnanswered(store, stream, commandEvent, commandId);
    const first = standIn.log.stream(stream)![1]!;

    // 1001 fact claims of other decisions on the stream, written as the adapter writes them (straight into the log:
    // a thousand decisions through the client would only make the test slow)
    for (let i = 0; i < 1001; i++) claimOn(stream, { claimant: `node-${randomUUID()}`, commandId: randomUUID() });
    expect(headOf(stream)).toBe(1002n);

    const retry = await store.appendToStream(stream, [commandEvent], { expectedRevision: ExpectedRevision.exact(headOf(stream)), commandId });

    expect(revisionsOf(stream, commandEvent.id)).toEqual([1n]);
    expect(retry).toEqual({ nextExpectedRevision: 1n, position: first.position, deduplicated: true });
    expect(headOf(stream)).toBe(1002n);
  });

  it('whose claim was written but whose events never were (the append failed after the claim) appends them once', async () => {
    const store = openStore(5);
    const stream = `subscription-${randomUUID()}`;
    const commandEvent: EventToAppend = { id: randomUUID(), type: 'NodeEnrolled', data: {}, metadata: {} };
    const commandId = randomUUID();
    await store.appendToStream(stream, [{ id: randomUUID(), type: 'SubscriptionCreated', data: {}, metadata: {} }], { expectedRevision: ExpectedRevision.noStream });
    // The id bound to the stream by an attempt that wrote nothing else, then more claims on the stream than the scan reads
    claimOn(commandClaimStreamOf(commandId), { claimant: stream, commandId });
    for (let i = 0; i < 6; i++) claimOn(stream, { claimant: `node-${randomUUID()}`, commandId: randomUUID() });

    const answer = await store.appendToStream(stream, [commandEvent], { expectedRevision: ExpectedRevision.exact(headOf(stream)), commandId });

    expect(revisionsOf(stream, commandEvent.id)).toEqual([7n]);
    const written = standIn.log.stream(stream)![7]!;
    expect(answer).toEqual({ nextExpectedRevision: 7n, position: written.position, deduplicated: false });
  });

  it('on a server that returns no positions on the stream, is refused, nothing appended again, rather than searched blind', async () => {
    const store = openStore(5);
    const stream = `subscription-${randomUUID()}`;
    const commandEvent: EventToAppend = { id: randomUUID(), type: 'NodeEnrolled', data: {}, metadata: {} };
    const commandId = randomUUID();
    await writtenButUnanswered(store, stream, commandEvent, commandId);
    for (let i = 0; i < 6; i++) claimOn(stream, { claimant: `node-${randomUUID()}`, commandId: randomUUID() });

    // The stream's records read back without positions (the claim stream's keep theirs): where the claim stands
    // among them cannot be told
    const driver = connectEventStoreDb(`${standIn.connectionString}&defaultDeadline=10000`);
    const blind: EsdbDriver = Object.assign(Object.create(driver) as EsdbDriver, {
      readStream: async (streamId: string, options: Parameters<EsdbDriver['readStream']>[1]) => {
        const events = await driver.readStream(streamId, options);
        return streamId === stream ? events.map((e) => ({ ...e, position: undefined })) : events;
      },
    });
    const blindStore = hold(new EventStoreDbStore(blind, { idempotencyScanLimit: 5 }));

    const error = await blindStore.appendToStream(stream, [commandEvent], { expectedRevision: ExpectedRevision.exact(headOf(stream)), commandId }).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(EventStoreDbError);
    expect((error as EventStoreDbError).transient).toBe(false);
    expect((error as Error).message).toMatch(/without positions on stream reads.*nothing was appended/);
    expect(revisionsOf(stream, commandEvent.id)).toEqual([1n]);
  });
});
