import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { loadServiceConfig, serviceConfig } from '../adapters/http/config.ts';
import { nodePseudonym } from '../projections/pseudonyms/index.ts';
import { cmd, T0 } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Seed 004 asks for pseudonyms that change frequently (SER-011). The service opened Credence with no rotation policy,
 * so the default policy (no interval, no rotation on association) left every node on its first pseudonym for life
 * unless an operator rotated it by hand (found in review). The service now rotates by its `pseudonyms` setting, every
 * node daily when the setting is absent.
 */
const HOUR = 3_600_000;

const epochOf = (svc: TestService, nodeId: string): number | undefined => nodePseudonym(svc.service.context.credence.readModels, nodeId)?.epoch;

/** Waits until `check` holds, the live ticks running meanwhile (200 ms apart in tests). */
const eventually = async (check: () => boolean, ms = 20_000): Promise<boolean> => {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
};

describe('the service rotates pseudonyms by its policy', () => {
  describe('with no setting: daily', () => {
    const clock = new FakeClock(T0);
    let svc: TestService;
    beforeAll(async () => {
      svc = await startTestService({ clock });
      await svc.service.context.credence.engine.execute(cmd.registerNode('meter-1'));
    }, 60_000);
    afterAll(() => svc.close());

    it('gives a node its first pseudonym, keeps it within the day and rotates it once the day has passed', async () => {
      expect(await eventually(() => epochOf(svc, 'meter-1') === 0)).toBe(true);
      clock.advance(23 * HOUR);
      // Several ticks run within the day: none rotates.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(epochOf(svc, 'meter-1')).toBe(0);
      clock.advance(2 * HOUR);
      expect(await eventually(() => epochOf(svc, 'meter-1') === 1)).toBe(true);
    });
  });

  describe('with a policy per profile class from the configuration file', () => {
    const clock = new FakeClock(T0);
    let svc: TestService;
    beforeAll(async () => {
      // The test fleet's nodes are of class `smart-meter` (test/support/fleet.ts profile).
      svc = await startTestService({ clock, config: { pseudonyms: { classes: { 'smart-meter': { everyMs: HOUR } } } } });
      await svc.service.context.credence.engine.execute(cmd.registerNode('meter-1'));
    }, 60_000);
    afterAll(() => svc.close());

    it("rotates a class's nodes at its own interval", async () => {
      expect(await eventually(() => epochOf(svc, 'meter-1') === 0)).toBe(true);
      clock.advance(HOUR + 1);
      expect(await eventually(() => epochOf(svc, 'meter-1') === 1)).toBe(true);
    });
  });

  describe('the setting', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'credence-pseudonym-config-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('defaults to every node daily, without rotation on association', () => {
      expect(serviceConfig({}).pseudonyms).toEqual({ default: { everyMs: 24 * HOUR, onAssociation: false }, classes: {} });
    });

    it('is read from the configuration file', () => {
      const file = join(dir, 'ok.json');
      writeFileSync(file, JSON.stringify({ pseudonyms: { default: { everyMs: 6 * HOUR, onAssociation: true }, classes: { gateway: { everyMs: HOUR } } } }));
      expect(loadServiceConfig({ file }).pseudonyms).toEqual({ default: { everyMs: 6 * HOUR, onAssociation: true }, classes: { gateway: { everyMs: HOUR, onAssociation: true } } });
    });

    it("keeps the default's daily interval for whatever a setting leaves out, and turns an interval off only when told", () => {
      const read = (pseudonyms: unknown) => {
        const file = join(dir, 'partial.json');
        writeFileSync(file, JSON.stringify({ pseudonyms }));
        return loadServiceConfig({ file }).pseudonyms;
      };
      // One slower class named: every other node still rotates daily, and the class keeps the default's onAssociation.
      expect(read({ classes: { gateway: { everyMs: 7 * 24 * HOUR } } })).toEqual({
        default: { everyMs: 24 * HOUR, onAssociation: false },
        classes: { gateway: { everyMs: 7 * 24 * HOUR, onAssociation: false } },
      });
      expect(read({ default: { onAssociation: true } })).toEqual({ default: { everyMs: 24 * HOUR, onAssociation: true }, classes: {} });
      expect(read({})).toEqual({ default: { everyMs: 24 * HOUR, onAssociation: false }, classes: {} });
      // Off only by saying so: a class with no interval, then every node but a listed class.
      expect(read({ classes: { gateway: { everyMs: null } } })).toEqual({ default: { everyMs: 24 * HOUR, onAssociation: false }, classes: { gateway: { onAssociation: false } } });
      expect(read({ default: { everyMs: null }, classes: { 'smart-meter': { everyMs: HOUR } } })).toEqual({
        default: { onAssociation: false },
        classes: { 'smart-meter': { everyMs: HOUR, onAssociation: false } },
      });
    });

    it('is refused naming the file and the field when it is not a policy', () => {
      const file = join(dir, 'bad.json');
      writeFileSync(file, JSON.stringify({ pseudonyms: { default: { everyMs: -5 }, often: true } }));
      let problem: { issues?: { path: string }[] } | undefined;
      try {
        loadServiceConfig({ file });
      } catch (error) {
        problem = (error as { problem?: { issues?: { path: string }[] } }).problem;
      }
      expect(problem?.issues?.map((i) => i.path).sort()).toEqual([`file ${file}: pseudonyms.default.everyMs`, `file ${file}: pseudonyms.often`]);
    });
  });
});
