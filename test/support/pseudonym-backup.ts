import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { FakeClock } from '../../adapters/driven/clock/index.ts';
import { cmd, T0 } from './fleet.ts';
import { currentPseudonym, eventually } from './pseudonym-epochs.ts';
import { startTestService, type TestService } from './service.ts';

/**
 * The scene of a whole-folder restore, in `root`: a data folder where meter-1 was registered and given its epoch-0
 * pseudonym (`first`), backed up once closed into `backup`, and its service started again (`svc`), on `clock`, for
 * what happens after the backup; `aside` is where the folder is to be moved aside before the restore.
 */
export const backedUpPseudonymFolder = async (
  root: string,
): Promise<{ data: string; backup: string; aside: string; clock: FakeClock; first: string; svc: TestService }> => {
  const data = join(root, 'data');
  const backup = join(root, 'backup');
  const aside = join(root, 'data.before-restore');
  const clock = new FakeClock(T0);
  const before = await startTestService({ dir: data, clock });
  await before.service.context.credence.engine.execute(cmd.registerNode('meter-1'));
  expect(await eventually(() => currentPseudonym(before)?.epoch === 0)).toBe(true);
  const first = currentPseudonym(before)!.pseudonym!;
  await before.close();
  cpSync(data, backup, { recursive: true });
  return { data, backup, aside, clock, first, svc: await startTestService({ dir: data, clock }) };
};
