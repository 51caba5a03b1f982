import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fastEventIdFor } from '../adapters/engine/event-ids.ts';
import { derivedCommandId, eventIdFor } from '../domain/event-ids.ts';
import { intervalCommandId } from '../projections/pseudonyms/rotation.ts';

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

  it('keeps the ids already stored: fixed vectors of the definition as first written (byte-level formatting)', () => {
    // Computed with the original domain/event-ids.ts (SHA-256 bytes, version and variant set on bytes 6 and 8).
    // Stored events and reactions' derived ids depend on these never changing.
    const vectors: [string, number, string][] = [
      ['c-1', 0, 'd7cd69f0-35e8-8fa6-ba11-185d9af82084'],
      ['c-1', 1, 'b054b225-6fac-8312-8db3-8e5387b5be57'],
      ['opérateur-é-ü-日本-🔑', 7, 'fe2acf26-e28f-8a76-9017-65b72b7b6777'],
      ['00000000-0000-4000-8000-000000000000', 2, 'c0e5bc7d-893a-808c-8a75-96bc8c5d1649'],
    ];
    for (const [commandId, index, id] of vectors) {
      expect(eventIdFor(commandId, index)).toBe(id);
      expect(fastEventIdFor(commandId, index)).toBe(id);
    }
    expect(derivedCommandId('pseudonym:interval:meter-1', '3')).toBe('b896b7e4-5b4a-861a-8bca-3196fdde4ad5');
    expect(intervalCommandId('meter-1', 3)).toBe('b896b7e4-5b4a-861a-8bca-3196fdde4ad5');
  });
});
