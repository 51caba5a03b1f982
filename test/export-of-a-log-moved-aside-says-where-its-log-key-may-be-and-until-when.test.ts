import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KEY_HANDLE_FILE } from '../adapters/driven/transparency/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { moveTransparencyLogAside } from './support/restored-folder.ts';
import { folderSnapshot, servedFolderWith } from './support/served-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 313 #2: `credence export --data <data>.before-restore` (the folder README's restore steps keep as the evidence
 * of the old history: events.db and the transparency log with its handle and public key, no Secure Environment) said
 * only "the transparency log key is in an HSM: set CREDENCE_SECURE_ENVIRONMENT", wrong when the key lived in the
 * embedded Secure Environment of the folder the log was moved from. The refusal names both places, what to do for
 * each, and that once the key is destroyed (`credence log-key destroy`) only `verify --data` audits that log.
 */
const scratch = temporaryFolders('credence-export-moved-aside-');

const credence = async (argv: string[], env: Record<string, string> = {}): Promise<{ code: number; said: string }> => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env });
  return { code, said: [...out, ...err].join('\n') };
};

/** README "Restoring `events.db`" steps 1 and 4: events.db and the log with its handle moved into `<data>.before-restore`. */
const movedAside = async (): Promise<string> => {
  const dir = join(scratch(), 'data');
  await servedFolderWith(dir, ['meter-1']);
  const keep = join(scratch(), 'data.before-restore');
  mkdirSync(keep, { mode: 0o700 });
  for (const name of readdirSync(dir).filter((n) => n.startsWith('events.db'))) renameSync(join(dir, name), join(keep, name));
  moveTransparencyLogAside(dir, keep);
  expect(existsSync(join(keep, KEY_HANDLE_FILE))).toBe(true);
  return keep;
};

describe('credence export --data of a log moved aside with its handle, no Secure Environment beside it', () => {
  it('names both places the key may be in (an HSM, or the embedded Secure Environment of the folder it was moved from) and until when a bundle can be signed; nothing written', async () => {
    const keep = await movedAside();
    const before = folderSnapshot(keep);

    const exported = await credence(['export', 'node-meter-1', '--data', keep, '--out', join(scratch(), 'bundle.json')]);

    expect(exported.code).toBe(2);
    // An HSM's: the setting the service runs with.
    expect(exported.said).toContain('CREDENCE_SECURE_ENVIRONMENT');
    // Or the embedded Secure Environment of the folder it was moved from, which this folder cannot sign with.
    expect(exported.said).toContain('embedded Secure Environment of the data folder it was moved from');
    expect(exported.said).toContain('exported from that folder before the restore replaced its events.db');
    expect(exported.said).toContain('credence log-key destroy');
    expect(exported.said).toContain(`credence verify --data ${keep}`);
    expect(exported.said).not.toMatch(/the transparency log key is in an HSM \(/);
    expect(folderSnapshot(keep)).toEqual(before);
    expect(existsSync(join(scratch(), 'bundle.json'))).toBe(false);
  }, 120_000);
});
