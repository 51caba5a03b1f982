/**
 * Review 348: review 342 had the service answer a retry of a command an earlier version recorded breaking a rule given
 * new commands since (a capability named twice, a correlation id that is not visible text) with its first outcome
 * (docs/service.md, Idempotency), but the CLI checked what it sends against those rules before sending, even under
 * --command-id: `credence node register … --capability metering --capability metering --command-id <id>` and
 * `credence command registerNode … --correlation-id $'a\tb' --command-id <id>` were refused (exit 2) and never
 * answered. Under --command-id the CLI now checks only what a command as sent must meet (still bounded) and leaves the
 * rules of new facts to the server; without it, a new command, it still refuses them itself, before anything is sent.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventIdFor } from '../domain/event-ids.ts';
import { ExpectedRevision, type EventStore } from '../domain/ports/index.ts';
import { currentVersionOf } from '../domain/upcasters.ts';
import { footprint, T0 } from './support/fleet.ts';
import { runCli } from './support/cli.ts';
import { settled } from './http-sse.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/** A node's registration recorded as an earlier version recorded it, by the test's operator token, under `commandId`. */
const registeredByAnEarlierVersion = async (store: EventStore, nodeId: string, profile: Record<string, unknown>, commandId: string, correlationId = commandId) => {
  await store.appendToStream(
    `node-${nodeId}`,
    [{
      id: eventIdFor(commandId, 0),
      type: 'NodeRegistered',
      data: { nodeId, profile } as never,
      metadata: {
        schemaVersion: currentVersionOf('NodeRegistered'),
        actor: { id: 'test-operator', role: 'operator' },
        commandId,
        commandType: 'registerNode',
        correlationId,
        causationId: commandId,
        occurredAt: T0,
      } as never,
    }],
    { expectedRevision: ExpectedRevision.noStream, commandId },
  );
};

const profile = { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] };

describe('a retry under --command-id of a command an earlier version recorded breaking a rule of new commands', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
  });
  const server = () => ['--server', svc.url, '--token', svc.tokens.operator];

  it('credence node register with a capability named twice: answered with its first outcome (exit 0); without --command-id refused here (exit 2)', async () => {
    // Given n-twice registered by an earlier version with metering named twice
    const store = svc.service.context.credence.store;
    const commandId = randomUUID();
    await registeredByAnEarlierVersion(store, 'n-twice', { ...profile, capabilities: ['metering', 'metering'] }, commandId);
    await settled(svc);
    const before = await footprint(store);
    const register = (...extra: string[]) =>
      runCli(['node', 'register', 'n-twice', '--class', 'smart-meter', '--manufacturer', 'Acme', '--model', 'SM-1', '--capability', 'metering', '--capability', 'metering', ...extra, ...server()]);

    // When it is retried under its id, Then the server answers it as done, nothing appended
    const retried = await register('--command-id', commandId);
    expect([retried.code, retried.err]).toEqual([0, '']);
    expect(retried.out).toContain(`command ${commandId} was already done; nothing appended`);

    // And sent as a new command, it is refused before anything is sent, naming the option
    const fresh = await register();
    expect(fresh.code).toBe(2);
    expect(fresh.err).toContain('--capability');
    await settled(svc);
    expect(await footprint(store)).toEqual(before);
  });

  it('credence command registerNode with a tab in its correlation id: answered with its first outcome (exit 0); without --command-id refused here (exit 2)', async () => {
    const store = svc.service.context.credence.store;
    const commandId = randomUUID();
    await registeredByAnEarlierVersion(store, 'n-tab', profile, commandId, 'a\tb');
    await settled(svc);
    const before = await footprint(store);
    const send = (...extra: string[]) =>
      runCli(['command', 'registerNode', '--data', JSON.stringify({ nodeId: 'n-tab', profile }), '--correlation-id', 'a\tb', ...extra, ...server()]);

    const retried = await send('--command-id', commandId);
    expect([retried.code, retried.err]).toEqual([0, '']);
    expect(retried.out).toContain(`command ${commandId} was already done; nothing appended`);

    const fresh = await send();
    expect(fresh.code).toBe(2);
    expect(fresh.err).toContain('--correlation-id');

    // And under an id never recorded, the server judges it a new command: refused (exit 1) naming the field
    const unrecorded = await send('--command-id', randomUUID());
    expect(unrecorded.code).toBe(1);
    expect(unrecorded.err).toContain('body.correlationId');
    await settled(svc);
    expect(await footprint(store)).toEqual(before);
  });

  it('under --command-id a value past its bound is still refused here (exit 2)', async () => {
    const result = await runCli(['command', 'registerNode', '--data', JSON.stringify({ nodeId: 'n-long', profile }), '--correlation-id', 'x'.repeat(201), '--command-id', randomUUID(), ...server()]);
    expect(result.code).toBe(2);
    expect(result.err).toContain('--correlation-id');
    const long = await runCli(['node', 'register', 'n-long', '--class', 'smart-meter', '--manufacturer', 'A'.repeat(5000), '--model', 'SM-1', '--command-id', randomUUID(), ...server()]);
    expect(long.code).toBe(2);
    expect(long.err).toContain('--manufacturer');
  });
});
