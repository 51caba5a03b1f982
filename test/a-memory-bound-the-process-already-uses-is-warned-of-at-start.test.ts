/**
 * Found in review 434 (L4): `limits.maxHeapUsedBytes` and `limits.maxRssBytes` take any byte count, so a unit slip (512,
 * meant as MiB) passed: the service said `listening` and shed every request 503 `overloaded`, without a word why. Not
 * refused (a tiny bound is how shedding is tested), but said at warn at start when the bound is at or below what the
 * process already uses, naming the setting, its value and the figure now.
 */
import { describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';

interface LogLine { readonly level: number; readonly msg: string; readonly setting?: string; readonly value?: number; readonly current?: number }
const boundWarnings = (svc: TestService): LogLine[] =>
  svc.logs().map((l) => JSON.parse(l) as LogLine).filter((l) => l.level === 40 && /^limits\.max(HeapUsed|Rss)Bytes\b/.test(l.msg));

describe('a memory bound at or below what the process uses at start', () => {
  it('is warned of, naming the setting, its value and the current figure', async () => {
    const svc = await startTestService({ config: { limits: { maxHeapUsedBytes: 1 } } });
    try {
      const [warning, ...more] = boundWarnings(svc);
      expect(more).toEqual([]);
      expect(warning).toMatchObject({ setting: 'limits.maxHeapUsedBytes', value: 1 });
      expect(warning!.current).toBeGreaterThan(1);
      expect(warning!.msg).toContain('limits.maxHeapUsedBytes is 1');
      expect(warning!.msg).toContain(`${warning!.current}`);
      expect(warning!.msg).toMatch(/every request .*shed/);
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('rss too, by its own name', async () => {
    const svc = await startTestService({ config: { limits: { maxRssBytes: 512 } } });
    try {
      expect(boundWarnings(svc).map((l) => [l.setting, l.value])).toEqual([['limits.maxRssBytes', 512]]);
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('is not said with the defaults (0: no bound) nor with a bound well above', async () => {
    const svc = await startTestService({ config: { limits: { maxRssBytes: Number.MAX_SAFE_INTEGER } } });
    try {
      expect(boundWarnings(svc)).toEqual([]);
    } finally {
      await svc.close();
    }
  }, 60_000);
});
