import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventIdFor } from '../domain/event-ids.ts';
import { ExpectedRevision, type RecordedEvent } from '../domain/ports/index.ts';
import { currentVersionOf } from '../domain/upcasters.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 186 made a new command's correlation and causation ids visible text on one line. The engine's reactions
 * carry on the correlation id of the stored event they react to: put in the command's schema, the rule refused the
 * node's first pseudonym rotation after a NodeRegistered an earlier version had recorded with a line break in it. The
 * rule is an outside sender's (free-text.ts senderTextRefusal), so the reaction goes through.
 */

const STORED_CORRELATION = 'batch-7\nsecond line';

describe('a node registered by an earlier version under a correlation id holding a line break', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('still gets its first pseudonym, the rotation carrying that correlation id on', async () => {
    const { credence } = svc.service.context;
    const commandId = randomUUID();
    const now = new Date().toISOString();
    await credence.store.appendToStream('node-meter-old', [{
      id: eventIdFor(commandId, 0),
      type: 'NodeRegistered',
      data: { nodeId: 'meter-old', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-10', capabilities: [] } },
      metadata: {
        schemaVersion: currentVersionOf('NodeRegistered'), actor: { id: 'test-operator', role: 'operator' }, commandId,
        commandType: 'registerNode', correlationId: STORED_CORRELATION, causationId: commandId, occurredAt: now,
      },
    }], { expectedRevision: ExpectedRevision.noStream, commandId });

    await credence.settle();

    const rotations: RecordedEvent[] = [];
    for await (const event of credence.store.readAll()) {
      if (event.type === 'PseudonymRotated' && event.metadata.correlationId === STORED_CORRELATION) rotations.push(event);
    }
    expect(rotations).toHaveLength(1);
  });

  it('refuses the same correlation id from an outside sender, naming it, with nothing written', async () => {
    const { credence } = svc.service.context;
    const head = await credence.store.headPosition();
    await expect(
      credence.engine.execute({
        type: 'registerNode',
        data: { nodeId: 'meter-new', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-10', capabilities: [] } },
        metadata: { commandId: randomUUID(), actor: { id: 'test-operator', role: 'operator' }, correlationId: STORED_CORRELATION },
      }),
    ).rejects.toMatchObject({ code: 'validation', problem: { issues: [{ path: 'metadata.correlationId', rule: 'printable' }] } });
    expect(await credence.store.headPosition()).toBe(head);
  });
});
