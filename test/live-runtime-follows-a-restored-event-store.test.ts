import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, startLive, type Credence } from '../adapters/runtime/index.ts';
import { cmd, T0 } from './support/fleet.ts';
import { copyEventStore, moveTransparencyLogAside } from './support/restored-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * The service (adapters/http/start.ts) builds its live runtime, then runs the runner's log check, then starts the
 * runtime. A read model of another log (the event store restored from an older backup) is reset by the check; the
 * live runtime must then follow it from the restored log, not from the checkpoint it read before the reset: every
 * event written after the restore is projected, those at positions the old checkpoint had passed included.
 */

const folder = temporaryFolders('credence-live-restored-');
const open = (dir: string): Credence => openCredence({ location: { dir }, clock: new FakeClock(T0) });
const writeNodes = async (c: Credence, from: number, to: number): Promise<void> => {
  for (let i = from; i < to; i++) {
    await c.engine.execute(cmd.registerNode(`meter-${i}`));
    await c.engine.execute(cmd.enrolNode(`meter-${i}`));
  }
};

describe('the live runtime on an event store restored from an older backup', () => {
  it.each([
    ['the check run between building and starting the runtime (startService)', true],
    ['the check left to the runtime\'s first catch-up (a library)', false],
  ])('projects every event written after the restore: %s', async (_, checkFirst) => {
    const dir = folder();
    const backup = folder();
    let c = open(dir);
    await c.engine.execute(cmd.createSubscription());
    await writeNodes(c, 0, 2);
    await c.settle();
    await c.close();
    copyEventStore(dir, backup);
    c = open(dir);
    await writeNodes(c, 2, 8);
    await c.settle();
    await c.close();
    copyEventStore(backup, dir);
    // The transparency log has logged the lost events and would stop (README): moved aside.
    moveTransparencyLogAside(dir, backup);

    c = open(dir);
    try {
      // As startService does: the runtime built, the check run, the runtime started.
      const live = startLive(c, { tickMs: 3_600_000 });
      if (checkFirst) expect((await c.runner.checkLog()).map((o) => o.name)).toContain('audit');
      await live.start();
      expect((await c.runner.checkLog()).map((o) => o.name)).toContain('audit');
      await writeNodes(c, 10, 16);
      const head = (await c.store.headPosition())!;
      expect(await live.caughtUp(head, 10_000)).toBe(true);
      const audited = (c.readModels.prepare('SELECT event_id FROM audit_events ORDER BY position').all() as { event_id: string }[]).map((r) => r.event_id);
      const log: string[] = [];
      for await (const r of c.store.readAll()) log.push(r.id);
      expect(audited).toEqual(log);
      await live.stop();
    } finally {
      await c.close();
    }
  }, 60_000);
});
