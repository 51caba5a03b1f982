import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock, SECOND } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { cmd, T0 } from './support/fleet.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'credence-checkpoints-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('checkpoints on schedule in a process that settles (regression: only every 1,000 leaves or at close)', () => {
  it('settle signs what is logged when no checkpoint exists, then again once the period has passed', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { dir }, clock });
    try {
      await c.engine.execute(cmd.createSubscription());
      await c.settle();
      const signedSize = () => c.transparency!.signedSize;
      expect(signedSize()).toBe(1);
      await c.engine.execute(cmd.registerNode());
      clock.advance(5 * SECOND);
      await c.settle();
      expect(signedSize()).toBe(1);
      clock.advance(5 * SECOND);
      await c.settle();
      expect(signedSize()).toBe(2);
    } finally {
      await c.close();
    }
  });
});
