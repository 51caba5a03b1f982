import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fastEventIdFor } from '../adapters/engine/event-ids.ts';
import { eventIdFor } from '../domain/event-ids.ts';

describe("the engine's native event ids are the domain's event ids", () => {
  it('gives the same id as eventIdFor for random, derived, long and non-ASCII command ids and every index', () => {
    const commandIds = [
      ...Array.from({ length: 200 }, () => randomUUID()),
      'cascade:revokeAssociation:a-1|0b5c',
      'x'.repeat(200),
      'opérateur-é-ü-日本-🔑',
    ];
    for (const commandId of commandIds) {
      for (const index of [0, 1, 2, 7, 63]) expect(fastEventIdFor(commandId, index)).toBe(eventIdFor(commandId, index));
    }
  });

  it('is a version 8 UUID, different per index and per command id', () => {
    const id = fastEventIdFor('c-1', 0);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(fastEventIdFor('c-1', 1)).not.toBe(id);
    expect(fastEventIdFor('c-2', 0)).not.toBe(id);
  });
});
