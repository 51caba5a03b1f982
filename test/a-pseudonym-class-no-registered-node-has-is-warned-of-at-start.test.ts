/**
 * Found in review 434 (L5): `pseudonyms.classes` takes any class name, so a misspelt one (`gatway`) was accepted and
 * its nodes kept the default rotation without a word (a privacy setting, SER-011). Not refused (a fleet may configure
 * a class before its first node), but said at warn at start, once the read models have caught up, per configured class
 * no registered node has.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { postCommand } from './support/console-fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { tempDirs } from './support/temp-dirs.ts';

const folders = tempDirs('credence-pseudonym-class-unseen-');
afterAll(folders.cleanup);
const HOUR = 3_600_000;
const profile = (cls: string) => ({ class: cls, manufacturer: 'Acme', model: 'SM-10', capabilities: ['metering'] });

interface LogLine { readonly level: number; readonly msg: string; readonly setting?: string; readonly classesSeen?: string[] }
const classWarnings = (svc: TestService): LogLine[] =>
  svc.logs().map((l) => JSON.parse(l) as LogLine).filter((l) => l.level === 40 && l.msg.startsWith('pseudonyms.classes.'));

describe('a configured pseudonym class no registered node has', () => {
  it('is warned of once, naming the classes seen; a class a node has is not', async () => {
    const dir = folders.make();
    const first = await startTestService({ dir });
    try {
      await postCommand(first, 'registerNode', { nodeId: 'meter-1', profile: profile('smart-meter') });
      await postCommand(first, 'registerNode', { nodeId: 'meter-2', profile: profile('smart-meter') });
      await postCommand(first, 'registerNode', { nodeId: 'hub-1', profile: profile('hub') });
      expect(classWarnings(first)).toEqual([]);
    } finally {
      await first.close();
    }
    const svc = await startTestService({ dir, config: { pseudonyms: { classes: { gatway: { everyMs: HOUR }, 'smart-meter': { everyMs: HOUR } } } } });
    try {
      const [warning, ...more] = classWarnings(svc);
      expect(more).toEqual([]);
      expect(warning).toMatchObject({ setting: 'pseudonyms.classes.gatway', classesSeen: ['hub', 'smart-meter'] });
      expect(warning!.msg).toBe('pseudonyms.classes.gatway: no registered node has this class (classes seen: hub, smart-meter)');
    } finally {
      await svc.close();
    }
  }, 120_000);

  it('with no node registered at all, says none were seen', async () => {
    const svc = await startTestService({ config: { pseudonyms: { classes: { gateway: { everyMs: HOUR } } } } });
    try {
      expect(classWarnings(svc).map((l) => l.msg)).toEqual(['pseudonyms.classes.gateway: no registered node has this class (classes seen: none)']);
    } finally {
      await svc.close();
    }
  }, 60_000);
});
