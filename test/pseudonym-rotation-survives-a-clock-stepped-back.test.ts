/**
 * Review 26 (Medium; SER-011, SER-025): interval rotation chose the nodes whose pseudonym was taken at least an
 * interval ago. A rotation recorded while the clock ran a year ahead (then stepped back by NTP) is dated in the
 * future, so its node was not due until the clock passed that date plus the interval: one pseudonym for a year.
 * Such a node is due: it rotates once, at the corrected time, then follows its interval.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DAY, HOUR } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import type { Clock } from '../domain/ports/clock.ts';
import { nodePseudonym, pseudonymHistory, secureEnvironmentPseudonymKey } from '../projections/pseudonyms/index.ts';
import { InspectableSecureEnvironment as EmbeddedSecureEnvironment } from './support/inspectable-secure-environment.ts';
import { operator, T0 } from './support/fleet.ts';

const OWNER = 'credence:pseudonyms';

const pseudonymKey = async () => {
  const se = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, {
    now: () => new Date(T0),
    random: (n) => new Uint8Array(randomBytes(n)),
  });
  return secureEnvironmentPseudonymKey(se.forOwner(OWNER), await se.generate(OWNER, 'psk256'));
};

const registerGateway = (nodeId: string) =>
  command('registerNode', { nodeId, profile: { class: 'gateway', manufacturer: 'Acme', model: 'GW-2', capabilities: [] } }, { actor: operator });

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

/** A Credence on a clock the test sets anywhere, backwards too, rotating every node daily. */
const open = async (startMs: number) => {
  const time = { ms: startMs };
  const clock: Clock = { now: () => new Date(time.ms) };
  const c = (credence = openCredence({ location: { memory: true }, clock, pseudonyms: { key: await pseudonymKey(), policy: { default: { everyMs: DAY } } } }));
  const epoch = (nodeId: string) => nodePseudonym(c.readModels, nodeId)?.epoch;
  return { c, time, epoch };
};

describe('interval pseudonym rotation after the clock is stepped back (review 26)', () => {
  it('rotates a node whose pseudonym is dated after now once, then on its interval from the corrected time', async () => {
    // Given a gateway registered while the clock ran a year ahead
    const { c, time, epoch } = await open(Date.parse(T0) + 365 * DAY);
    await c.engine.execute(registerGateway('gw-1'));
    await c.settle();
    expect(epoch('gw-1')).toBe(0);

    // When the clock is stepped back and the rotation ticks
    time.ms = Date.parse(T0) + 2 * DAY;
    await c.tick();

    // Then it rotates once, dated now
    expect(epoch('gw-1')).toBe(1);
    expect(nodePseudonym(c.readModels, 'gw-1')?.rotatedAt).toBe(time.ms);

    // And the rotation just made is not made again: not at the same instant, not within the interval
    await c.tick();
    expect(epoch('gw-1')).toBe(1);
    time.ms += DAY - HOUR;
    await c.tick();
    expect(epoch('gw-1')).toBe(1);

    // And the interval counts from the corrected rotation
    time.ms += HOUR;
    await c.tick();
    expect(epoch('gw-1')).toBe(2);
    expect(pseudonymHistory(c.readModels, 'gw-1').map((e) => [e.epoch, e.trigger])).toEqual([[0, 'initial'], [1, 'interval'], [2, 'interval']]);
  });

  it('rotates nodes due by their interval and nodes dated after now in one tick, each once', async () => {
    // Given one gateway rotated more than an interval ago, and one rotated while the clock ran ahead
    const { c, time, epoch } = await open(Date.parse(T0));
    await c.engine.execute(registerGateway('gw-old'));
    await c.settle();
    time.ms = Date.parse(T0) + 365 * DAY;
    await c.engine.execute(registerGateway('gw-ahead'));
    await c.settle();

    // When the clock is stepped back to past the first one's interval and ticks twice
    time.ms = Date.parse(T0) + 2 * DAY;
    await c.tick();
    await c.tick();

    // Then each rotated once
    expect([epoch('gw-old'), epoch('gw-ahead')]).toEqual([1, 1]);
  });
});
