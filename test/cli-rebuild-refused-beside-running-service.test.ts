import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SERVICE_LOCK_FILE } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

describe('credence projections rebuild', () => {
  let svc: TestService | undefined;
  afterAll(async () => {
    await svc?.close();
  });

  it('is refused while a service runs on the data folder (naming the lock), and runs once it stopped', async () => {
    svc = await startTestService();
    const dir = svc.dir;
    const refused = capture();
    expect(await main(['projections', 'rebuild', 'audit', '--data', dir], refused.io)).not.toBe(0);
    expect(refused.err.join('\n')).toMatch(new RegExp(`in use by process ${process.pid} .*${SERVICE_LOCK_FILE}.*stop that service first`));
    // Review 81: the holder may be another credence command (three `ca init` at once named the winner a service).
    expect(refused.err.join('\n')).toContain('or, if it is another credence command (ca, key, projections, verify, replay), let it end');
    // The refusal left the running service's lock in place.
    expect(existsSync(join(dir, SERVICE_LOCK_FILE))).toBe(true);

    const { service } = svc;
    await service.close();
    const rebuilt = capture();
    expect(await main(['projections', 'rebuild', 'audit', '--data', dir], rebuilt.io), rebuilt.err.join('\n')).toBe(0);
    expect(rebuilt.out.join('\n')).toMatch(/rebuilt audit from position 0/);
    // The rebuild's own lock is released.
    expect(existsSync(join(dir, SERVICE_LOCK_FILE))).toBe(false);
  });
});
