import { cpSync, renameSync } from 'node:fs';
import { expect } from 'vitest';
import { runCli } from './cli.ts';
import { cmd } from './fleet.ts';
import { backedUpPseudonymFolder } from './pseudonym-backup.ts';
import { currentPseudonym, eventually } from './pseudonym-epochs.ts';

/**
 * backedUpPseudonymFolder's scene, with meter-9 registered since the backup and given its epoch-0 pseudonym (`given`)
 * by the service still running (`svc`).
 */
export const nodeRegisteredSinceBackup = async (root: string) => {
  const scene = await backedUpPseudonymFolder(root);
  await scene.svc.service.context.credence.engine.execute(cmd.registerNode('meter-9'));
  expect(await eventually(() => currentPseudonym(scene.svc, 'meter-9')?.epoch === 0)).toBe(true);
  const given = currentPseudonym(scene.svc, 'meter-9')!.pseudonym!;
  return { ...scene, given };
};

/**
 * The whole-folder restore, its service closed: `data` moved `aside`, the backup copied in its place, and the marks of
 * the folder moved aside raised in it (`credence pseudonym raise-marks-since-backup`, exit 0); the start is left to the test.
 */
export const restoreFromBackup = async ({ data, backup, aside }: { readonly data: string; readonly backup: string; readonly aside: string }): Promise<void> => {
  renameSync(data, aside);
  cpSync(backup, data, { recursive: true });
  const run = await runCli(['pseudonym', 'raise-marks-since-backup', '--data', data, '--before-restore', aside]);
  expect(run.code, run.err).toBe(0);
};
