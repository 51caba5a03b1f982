/**
 * Review 26 (Low): a process that settles signs a checkpoint once the latest is a period old. One signed while the
 * clock ran a year ahead (then stepped back by NTP) made the elapsed time negative, so nothing was signed until the
 * clock passed it: a crash could leave a year of logged events unsigned. A checkpoint dated after now is due.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, SECOND } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import type { Clock } from '../domain/ports/clock.ts';
import { verifyConsistency } from '../domain/transparency/index.ts';
import { keyOf } from './transparency-fixtures.ts';
import { cmd, T0 } from './support/fleet.ts';

let dir: string;
let credence: Credence | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'credence-checkpoints-stepped-back-'));
});
afterEach(async () => {
  await credence?.close();
  credence = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('transparency checkpoints after the clock is stepped back (review 26)', () => {
  it('settle signs the next period once, at the corrected time, then keeps its period; the log stays consistent', async () => {
    let ms = Date.parse(T0) + 365 * DAY;
    const clock: Clock = { now: () => new Date(ms) };
    const c = (credence = openCredence({ location: { dir }, clock }));
    const latest = () => c.transparencyLog!.log.latestCheckpoint()!;

    // Given a checkpoint signed while the clock ran a year ahead
    await c.engine.execute(cmd.createSubscription('sub-1', '2028-01-01T00:00:00.000Z'));
    await c.settle();
    const ahead = latest();
    expect(ahead.treeSize).toBe(1);

    // When the clock is stepped back and an event is logged more than a period (10 s) later
    ms = Date.parse(T0);
    await c.engine.execute(cmd.registerNode('meter-1'));
    ms += 60 * SECOND;
    await c.settle();

    // Then it is signed, dated by the corrected clock, and extends the checkpoint before it
    const corrected = latest();
    expect(corrected.treeSize).toBe(2);
    expect(corrected.time).toBe(new Date(ms).toISOString());
    const { log, signer } = c.transparencyLog!;
    const proof = { first: 1, second: 2, hashes: log.consistencyProof(1, 2) };
    expect(verifyConsistency(ahead.note, corrected.note, proof, keyOf(signer))).toMatchObject({ ok: true });

    // And from there the period counts from the corrected checkpoint: not again within it, again once it passed
    await c.engine.execute(cmd.registerNode('meter-2'));
    ms += 5 * SECOND;
    await c.settle();
    expect(latest().treeSize).toBe(2);
    ms += 5 * SECOND;
    await c.settle();
    expect(latest().treeSize).toBe(3);
  });
});
