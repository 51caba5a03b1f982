import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_MAX_CLOCK_SKEW_SECONDS } from '../domain/protocols/clock-skew.ts';
import { ProblemResponse } from '../adapters/client/http.ts';
import { clientOf } from '../bin/commands/options.ts';
import { factory } from '../bin/commands/device/factory.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

/*
 * Found in review 207: `device init` dated its bootstrap credential by the device's clock. A clock years behind had
 * the node registered and the credential then refused (after_now), the key and folder removed, and a rerun refused as
 * another node's: the node orphaned. A clock years ahead made a bootstrap credential valid only years later. The init
 * now reads the server's time (its answer's Date header) first and refuses a skew past the one the server accepts,
 * naming both times, before anything is recorded on either side.
 */
const clock = vi.hoisted(() => ({ offsetMs: 0 }));
vi.mock('../bin/commands/device/simulator.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../bin/commands/device/simulator.ts')>();
  return { ...original, now: () => new Date(Date.now() + clock.offsetMs) };
});

describe('device init against a server whose clock is far from the device\'s', () => {
  let world: DeviceServiceWorld;
  beforeAll(async () => {
    world = await deviceServiceWorld();
  }, 120_000);
  afterAll(async () => {
    clock.offsetMs = 0;
    await world?.close();
  });

  const profile = { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] };
  const init = (nodeId: string) =>
    factory(world.operator, { dir: join(world.devicesDir, nodeId), nodeId, kind: 'ed25519', profile, bootstrapCredentialId: `${nodeId}-boot`, validForSeconds: 5 * 365 * 86_400 });
  const onServer = async (kind: 'node' | 'credential', id: string): Promise<boolean> =>
    clientOf(world.operator).entity(kind, id).then(() => true, (error: unknown) => {
      if (error instanceof ProblemResponse && error.status === 404) return false;
      throw error;
    });
  const YEAR = 365 * 86_400_000;
  const PAST_SKEW = (DEFAULT_MAX_CLOCK_SKEW_SECONDS + 30) * 1000;

  it.each([
    ['two years behind', 'clk-behind', -2 * YEAR],
    ['two years ahead', 'clk-ahead', 2 * YEAR],
    ['just past the skew behind', 'clk-skew-behind', -PAST_SKEW],
    ['just past the skew ahead', 'clk-skew-ahead', PAST_SKEW],
  ])('%s: refused naming both times and the clock to set; no folder, no node, no credential', async (_case, nodeId, offsetMs) => {
    clock.offsetMs = offsetMs;
    let refused: unknown;
    try {
      await init(nodeId);
    } catch (error) {
      refused = error;
    } finally {
      clock.offsetMs = 0;
    }
    expect(refused).toBeInstanceOf(Error);
    const message = JSON.stringify(refused) + String(refused);
    expect(message).toMatch(/set the device's clock/);
    expect(message).toContain(`${DEFAULT_MAX_CLOCK_SKEW_SECONDS} s`);
    // Both times, as ISO instants: the device's (shifted) and the server's.
    const instants = message.match(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g) ?? [];
    expect(instants.length).toBeGreaterThanOrEqual(2);
    expect(instants.some((t) => Math.abs(Date.parse(t) - (Date.now() + offsetMs)) < 60_000)).toBe(true);
    expect(instants.some((t) => Math.abs(Date.parse(t) - Date.now()) < 60_000)).toBe(true);
    expect(existsSync(join(world.devicesDir, nodeId))).toBe(false);
    expect(await onServer('node', nodeId)).toBe(false);
    expect(await onServer('credential', `${nodeId}-boot`)).toBe(false);
  });

  it('a clock ahead within the skew: the bootstrap credential is valid at once on the server\'s clock', async () => {
    clock.offsetMs = (DEFAULT_MAX_CLOCK_SKEW_SECONDS - 60) * 1000;
    const before = Date.now();
    try {
      const state = await init('clk-near-ahead');
      // Dated no later than the server's time, so the server does not hold it not yet valid for minutes.
      expect(Date.parse(state.bootstrap.descriptor.validity.notBefore)).toBeLessThanOrEqual(Date.now());
      expect(Date.parse(state.bootstrap.descriptor.validity.notBefore)).toBeGreaterThanOrEqual(before - 2_000);
    } finally {
      clock.offsetMs = 0;
    }
    expect(await onServer('credential', 'clk-near-ahead-boot')).toBe(true);
  });

  it('a clock behind within the skew: init succeeds, dated by the device\'s clock', async () => {
    clock.offsetMs = -(DEFAULT_MAX_CLOCK_SKEW_SECONDS - 60) * 1000;
    try {
      const state = await init('clk-near-behind');
      expect(Date.parse(state.bootstrap.descriptor.validity.notBefore)).toBeLessThan(Date.now() - 200_000);
    } finally {
      clock.offsetMs = 0;
    }
    expect(await onServer('credential', 'clk-near-behind-boot')).toBe(true);
  });
});
