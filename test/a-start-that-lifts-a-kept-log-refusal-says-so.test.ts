import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { firstCatchUp } from '../adapters/http/first-catch-up.ts';
import type { Credence, LiveRuntime } from '../adapters/runtime/index.ts';
import type { LogRefusal } from '../domain/ports/index.ts';

/*
 * A refusal of the transparency log kept in transparency.db is lifted by a start whose store holds every logged event
 * again (README, "Restoring the event store from a backup"). The projection only remembers it lifted one; the start is
 * where an operator reads that the log signs again, and what had stopped it.
 */
const lifted: LogRefusal = {
  leafIndex: 6,
  position: 7n,
  expectedLeafHash: new Uint8Array(32).fill(0xab),
  foundLeafHash: new Uint8Array(32).fill(0xcd),
  refusedAt: '2026-12-01T10:00:00.000Z',
};

const started = async (clearedRefusal: LogRefusal | undefined) => {
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  const log = { warn: (fields: Record<string, unknown>, message: string) => warnings.push({ fields, message }), info: () => {} } as unknown as FastifyBaseLogger;
  const live = { start: async () => {} } as unknown as LiveRuntime;
  const credence = {
    runner: { names: [], checkpoint: () => undefined, lag: async () => ({ eventsBehind: 0 }) },
    transparency: { position: 7n, clearedRefusal },
    store: { headPosition: async () => 7n },
  } as unknown as Credence;
  await firstCatchUp(live, credence, log);
  return warnings;
};

describe('the first catch-up of a start', () => {
  it('says at warn that the transparency log goes on when it lifted a kept refusal, naming what had stopped it', async () => {
    expect(await started(lifted)).toEqual([
      {
        fields: { transparency: 'refusal lifted', position: '7' },
        message: expect.stringMatching(/^the transparency log goes on: .*refusal kept in transparency\.db is lifted \(at 2026-12-01T10:00:00\.000Z .*position 7, where leaf 6 /),
      },
    ]);
  });

  it('says nothing of the log when no refusal was lifted', async () => {
    expect(await started(undefined)).toEqual([]);
  });
});
