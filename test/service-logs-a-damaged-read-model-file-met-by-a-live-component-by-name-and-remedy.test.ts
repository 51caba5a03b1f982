import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cmd } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { tearTablePage } from './support/torn-page.ts';

/*
 * Review 52, finding 2: a live projection that met a damaged readmodels.db logged
 * `{"err":{"type":"SqliteError","message":"database disk image is malformed","stack":…},"msg":"live component failed"}`
 * at every pass, naming no file. It is now logged as the file and what mends it, without a stack, as a request that
 * meets a damaged file is.
 */
describe('a live component that meets a damaged readmodels.db', () => {
  let svc: TestService;

  const tearCheckpointsPage = (): void => tearTablePage(join(svc.dir, 'readmodels.db'), 'projection_checkpoints');

  beforeEach(async () => {
    svc = await startTestService();
    const { engine } = svc.service.context.credence;
    await engine.execute(cmd.createSubscription());
    await engine.execute(cmd.registerNode('meter-1'));
    const head = (await svc.service.context.credence.store.headPosition())!;
    expect(await svc.service.context.live.caughtUp(head, 10_000)).toBe(true);
  });
  afterEach(async () => {
    await svc?.close();
  });

  it('logs the file, its path and what mends it, with the component, and no SqliteError or stack', async () => {
    // Given the read models' file damaged under the running service
    tearCheckpointsPage();
    const logged = svc.logs().length;

    // When an event reaches the live components
    await svc.service.context.credence.engine.execute(cmd.registerNode('meter-2'));

    // Then the failure is said with the file named and what mends it
    const failures = (): Record<string, unknown>[] =>
      svc.logs().slice(logged).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['level'] === 50 && l['component'] !== undefined);
    await expect.poll(() => failures().length, { timeout: 10_000 }).toBeGreaterThan(0);
    const [first] = failures();
    expect(first).toMatchObject({ level: 50, file: 'readmodels.db', path: join(svc.dir, 'readmodels.db'), component: expect.any(String) });
    expect(String(first!['remedy'])).toMatch(/move it aside .* it is rebuilt from the events/);
    expect(String(first!['msg'])).toMatch(/readmodels\.db is damaged \(SQLITE_CORRUPT\w*: /);
    expect(failures().map((l) => JSON.stringify(l)).join('\n')).not.toMatch(/"stack"|SqliteError|"err"|live component failed/);
    // And GET /v1/projections (the live runtime's status) names the file only, not SQLite's bare message nor the path.
    const errors = (await svc.service.context.live.status()).flatMap((c) => (c.error === undefined ? [] : [c.error]));
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) expect(error).toBe("the database readmodels.db is damaged: its operator must mend it (the service's log says how)");
  });
});
