/*
 * Review 62 F4: the sweep of an opened data folder took every temp file named with its own pid, or a pid not running
 * here, for a stray. Across PID namespaces (two containers on one volume, `credence replay` in the other as pid 1 or
 * 57) that file may be another container's write in flight: the service restarting while `credence replay` (which
 * writes without the folder's lock) wrote `replay-checkpoint.json` deleted the live temp under it. A temp is now a
 * stray only once it is STRAY_AGE_MS old; a write in flight has touched it more recently than that.
 */
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeAtomicWriteStrays, STRAY_AGE_MS } from '../adapters/driven/files/atomic-write-strays.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-fresh-strays-');

/** Above Linux's largest pid (2^22): no process here, as another namespace's writer is not. */
const ELSEWHERE_PID = 4_194_305;

describe('the stray-temp sweep of a data folder', () => {
  it.each([
    ['its own pid', process.pid],
    ['a pid not running here', ELSEWHERE_PID],
  ])('keeps a temp file named with %s while it is fresh (another namespace\'s write in flight), removes one older than the bound', (_what, pid) => {
    const dir = join(scratch(), 'data');
    mkdirSync(join(dir, 'pki'), { recursive: true, mode: 0o700 });
    const fresh = `.replay-checkpoint.json.${pid}.0123456789ab.tmp`;
    const justFresh = join('pki', `.root.ca.json.${pid}.00000000abcd.tmp`);
    const old = `.replay-checkpoint.json.${pid}.ba9876543210.tmp`;
    for (const name of [fresh, justFresh, old]) writeFileSync(join(dir, name), '{"position":41}\n', { mode: 0o600 });
    const seconds = (ms: number) => (Date.now() - ms) / 1000;
    utimesSync(join(dir, justFresh), seconds(STRAY_AGE_MS - 30_000), seconds(STRAY_AGE_MS - 30_000));
    utimesSync(join(dir, old), seconds(STRAY_AGE_MS + 60_000), seconds(STRAY_AGE_MS + 60_000));

    expect(removeAtomicWriteStrays(dir, ['pki'])).toEqual([old]);
    expect(existsSync(join(dir, fresh))).toBe(true);
    expect(existsSync(join(dir, justFresh))).toBe(true);
    expect(existsSync(join(dir, old))).toBe(false);
  });
});
